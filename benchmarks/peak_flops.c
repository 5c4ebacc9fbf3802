// Measures this machine's FP32 FMA peak (GFLOP/s) on 1..N threads with 512-bit
// FMAs; run.sh builds it with `cc -O2 -mavx512f -pthread` and divides model
// GFLOP/s by it.
//
//   peak_flops [--threads N]... [--probes N]   prints one JSON object:
//   {"peak_gflops": {"1": best, ...}, "median_gflops": {"1": median, ...}}
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CHAINS = 16, ITERS = 1000000, MAX_THREADS = 64, MAX_PROBES = 1000 };

/* 16 independent chains of 512-bit FMAs: enough to cover 2 FMA pipes times a
   4-cycle latency. Each iteration does CHAINS * 16 lanes * 2 FLOPs. */
static void *fmaLoop(void *out) {
  __m512 acc[CHAINS];
  for (int i = 0; i < CHAINS; ++i)
    acc[i] = _mm512_set1_ps((float)i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < ITERS; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float sink = 0;
  for (int i = 0; i < CHAINS; ++i)
    sink += _mm512_reduce_add_ps(acc[i]);
  *(float *)out = sink;
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* GFLOP/s of one probe: `threads` threads run the loop at once (~3 ms). */
static double probe(int threads) {
  pthread_t pool[MAX_THREADS];
  float sinks[MAX_THREADS];
  double t0 = now();
  for (int t = 0; t < threads; ++t)
    if (pthread_create(&pool[t], NULL, fmaLoop, &sinks[t]) != 0) {
      fprintf(stderr, "peak_flops: error: cannot start thread %d\n", t);
      exit(1);
    }
  for (int t = 0; t < threads; ++t)
    pthread_join(pool[t], NULL);
  double s = now() - t0;
  return threads * (double)ITERS * CHAINS * 16 * 2 / s / 1e9;
}

static int compareDoubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int parsePositive(const char *flag, const char *s, int max) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 1 || v > max) {
    fprintf(stderr,
            "peak_flops: error: %s wants an integer in 1..%d, got '%s'\n", flag,
            max, s);
    exit(2);
  }
  return (int)v;
}

int main(int argc, char **argv) {
  int threadCounts[MAX_THREADS], numCounts = 0, probes = 200;
  for (int i = 1; i < argc; ++i) {
    if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
      if (numCounts == MAX_THREADS) {
        fprintf(stderr, "peak_flops: error: too many --threads\n");
        return 2;
      }
      threadCounts[numCounts++] =
          parsePositive("--threads", argv[++i], MAX_THREADS);
    } else if (i + 1 < argc && strcmp(argv[i], "--probes") == 0) {
      probes = parsePositive("--probes", argv[++i], MAX_PROBES);
    } else {
      fprintf(stderr, "usage: peak_flops [--threads N]... [--probes N]\n");
      return 2;
    }
  }
  if (numCounts == 0) {
    threadCounts[0] = 1, threadCounts[1] = 2;
    numCounts = 2;
  }
  double best[MAX_THREADS], median[MAX_THREADS], samples[MAX_PROBES];
  for (int c = 0; c < numCounts; ++c) {
    for (int p = 0; p < probes; ++p)
      samples[p] = probe(threadCounts[c]);
    qsort(samples, probes, sizeof(double), compareDoubles);
    best[c] = samples[probes - 1];
    median[c] = samples[probes / 2];
  }
  printf("{\"peak_gflops\": {");
  for (int c = 0; c < numCounts; ++c)
    printf("%s\"%d\": %.1f", c ? ", " : "", threadCounts[c], best[c]);
  printf("}, \"median_gflops\": {");
  for (int c = 0; c < numCounts; ++c)
    printf("%s\"%d\": %.1f", c ? ", " : "", threadCounts[c], median[c]);
  printf("}, \"probes\": %d}\n", probes);
  return 0;
}
