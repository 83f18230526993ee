"""``grader batch``: grade a whole class from an LMS export (see docs/batch.md).

- :mod:`grader.batch.layouts`: finding submissions and students in a folder or zip
  (Canvas, Moodle, Gradescope, flat).
- :mod:`grader.batch.executor`: the executor interface and the ``local`` executor.
- :mod:`grader.batch.core`: the run (cache, results, interruption).
- :mod:`grader.batch.export_grades`, ``export_canvas``, ``export_moodle``: exporter plugins.
- :mod:`grader.batch.summary`: the instructor's ``summary.html``.
- :mod:`grader.batch.gradescope`: ``grader gradescope build`` and ``run``.
"""
