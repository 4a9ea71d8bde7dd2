#!/usr/bin/python3
# Generates the expected values of tests/unit/test_stats.c (OLS, delta-method
# and percentile intervals) independently of src/stats.c, with numpy:
#   /usr/bin/python3 tests/data/stats/expected.py
# The t quantile t(0.975, 3) = 3.182446305284263 is the textbook table value
# (numpy has no t distribution).
import numpy as np

np.set_printoptions(precision=17)
# OLS: y on x1, x2 with an intercept, n = 6 (df = 3); the last row has a NaN and is left out
x1 = np.array([1, 2, 3, 4, 5, 6, 7.0])
x2 = np.array([2, 1, 4, 3, 6, 5, np.nan])
y = np.array([3.1, 3.9, 7.2, 7.8, 11.1, 11.9, 99.0])
ok = np.isfinite(x1) & np.isfinite(x2) & np.isfinite(y)
X = np.column_stack([np.ones(ok.sum()), x1[ok], x2[ok]])
Y = y[ok]
beta, *_ = np.linalg.lstsq(X, Y, rcond=None)
res = Y - X @ beta
n, p = X.shape
s2 = res @ res / (n - p)
cov = s2 * np.linalg.inv(X.T @ X)
se = np.sqrt(np.diag(cov))
r2 = 1 - (res @ res) / ((Y - Y.mean()) @ (Y - Y.mean()))
t = 3.182446305284263
print("ols coef", repr(list(beta)))
print("ols se", repr(list(se)))
print("ols lo", repr(list(beta - t * se)))
print("ols hi", repr(list(beta + t * se)))
print("ols r2", repr(r2), "sigma", repr(np.sqrt(s2)))

# delta method: ratio of means of x over y, and the mean of x; z(0.975)
z = 1.959963984540054
x = np.array([1, 0, 1, 1, 0, 1, 1, 0.0])
w = np.array([10, 12, 9, 14, 11, 10, 13, 12.0])
mx, my = x.mean(), w.mean()
R = mx / my
C = np.cov(x, w, ddof=1)
var = (C[0, 0] - 2 * R * C[0, 1] + R * R * C[1, 1]) / (len(x) * my * my)
print("ratio", repr(R), "halfwidth", repr(z * np.sqrt(var)))
print("mean halfwidth", repr(z * np.sqrt(x.var(ddof=1) / len(x))))

# percentile interval of 0..99 squared at level 0.9 (type 7 = numpy's default 'linear')
v = np.arange(100.0) ** 2
print("pct lo", repr(np.quantile(v, 0.05)), "hi", repr(np.quantile(v, 0.95)))
