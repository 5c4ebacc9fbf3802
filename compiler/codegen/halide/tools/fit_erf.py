# Fits the erf approximation used by the Halide backend (KernelBuilder.cpp):
# |x| < 1: erf(x) = x·P(x²);  1 <= |x| <= 4: erf(x) = 1 - exp(-x²)·Q(1/(1+x/2)).
# Least squares at Chebyshev nodes; prints coefficients (low order first) and
# the max abs error of the float32 evaluation. Run with /usr/bin/python3.
import math
import numpy as np

erf = np.vectorize(math.erf)
erfc = np.vectorize(math.erfc)


def cheb(a, b, n):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos((2 * k + 1) * np.pi / (2 * n))


def fit(x, y, deg):
    return np.linalg.lstsq(np.vander(x, deg + 1, increasing=True), y, rcond=None)[0]


def horner32(c, t):
    r = np.zeros_like(t)
    for v in c[::-1]:
        r = (r * t + np.float32(v)).astype(np.float32)
    return r


x1 = cheb(1e-6, 1.0, 400)
p = fit(x1 * x1, erf(x1) / x1, 5)
x2 = cheb(1.0, 4.0, 800)
q = fit(1 / (1 + 0.5 * x2), erfc(x2) * np.exp(x2 * x2), 7)
xs = np.linspace(0, 4, 40001).astype(np.float32)
t = (np.float32(1) / (np.float32(1) + np.float32(0.5) * xs)).astype(np.float32)
y = np.where(xs < 1, xs * horner32(p, xs * xs),
             np.float32(1) - np.exp(-xs * xs).astype(np.float32) * horner32(q, t))
print("P", ["%.9e" % c for c in p])
print("Q", ["%.9e" % c for c in q])
print("max abs error", np.max(np.abs(y.astype(np.float64) - erf(xs.astype(np.float64)))))
