"""Placeholder while the exercise is being written."""

import grader


@grader.hookimpl
def grader_exercises():
    return []
