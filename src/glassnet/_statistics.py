"""Chan et al.'s merge of two groups' means and sums of squared deviations, for statistics
gathered batch by batch (R2Score's targets, Normalization.adapt's data).

Why not the raw sums of x and x^2: their difference, n E[x^2] - n E[x]^2, loses every digit the
mean shares with the values (data around 1e4 with a spread of 1 keeps about 8 of float64's 16
digits, and none of float32's). The merge keeps each group's deviations about its own mean.
"""


def merge_moments(count, mean, deviations, n, batch_mean, batch_deviations):
    """The ``(mean, deviations)`` of ``count`` values with ``mean`` and summed squared
    ``deviations`` joined by ``n`` more with ``batch_mean`` and ``batch_deviations`` (scalars or
    arrays of one shape, float64). ``count + n`` must be > 0.

    >>> merge_moments(2, 1.0, 2.0, 2, 3.0, 2.0)       # [0, 2] and [2, 4]: mean 2, deviations 8
    (2.0, 8.0)
    """
    if count == 0:      # the first group as it is: delta ** 2 * 0 would be NaN once delta ** 2 overflows
        return batch_mean, batch_deviations
    total = count + n
    delta = batch_mean - mean
    return mean + delta * (n / total), deviations + batch_deviations + delta ** 2 * (count * n / total)
