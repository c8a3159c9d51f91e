"""The timing every benchmark script shares: the median of repeated wall-clock calls, after warm-up calls
(first calls pay for imports, caches and compilation)."""
import statistics
import time


def median_time(call, repeat, warmup=0):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
