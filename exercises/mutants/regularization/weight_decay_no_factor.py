# mutant: uses l2 itself as SGD's weight_decay (the factor 2 is missing)
# expect-fail: sgd_weight_decay_equivalent.same_step
# expect-hint: the factor 2
def sgd_weight_decay_equivalent(l2):
    return l2
