#!/usr/bin/python3
"""Golden sentences of tests/gui/test_runs_browser.cpp (groupsSeedsAndCompares), computed with
SciPy's Welch test, independently of the engine: the comparison panel must print these.

Fixture: setting T=4 has student accuracies 80, 82, 84 and 81 % (four seeds), setting T=2 has
70, 71, 72 %; scratch twins 79, 80, 81 % (T=2) and 79, 80, 81, 80 % (T=4)."""
import numpy as np
from scipy import stats


def sentence(a, b):
    a, b = np.array(a), np.array(b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    d, se = a.mean() - b.mean(), np.sqrt(va + vb)
    q = stats.t.ppf(0.975, df)
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    ptext = "p < 0.001" if p < 0.001 else ("p = %.3f" % p if p < 0.1 else "p = %.2f" % p)
    verdict = "significant at 5 %" if p < 0.05 else "not significant at 5 % (the interval includes 0)"
    return "%+.2f pt [%.2f, %.2f], %s — %s" % (100 * d, 100 * (d - q * se), 100 * (d + q * se), ptext, verdict)


print("T=2 KD gain:   ", sentence([0.70, 0.71, 0.72], [0.79, 0.80, 0.81]))
print("T=4 − T=2:     ", sentence([0.80, 0.82, 0.84, 0.81], [0.70, 0.71, 0.72]))
print("T=4 KD gain:   ", sentence([0.80, 0.82, 0.84, 0.81], [0.79, 0.80, 0.81, 0.80]))
