// Measures this machine's FP32 peak (GFLOP/s) on 1..N threads with the widest
// vector ISA the CPU has (or the one --isa names); run.sh builds it with plain
// `cc -O2 -pthread` (no -m flags: each probe is compiled for its own ISA with a
// target attribute and picked at run time from CPUID) and divides model
// GFLOP/s by it.
//
//   peak_flops [--isa avx512|avx2|sse|auto] [--threads N]... [--probes N]
//   prints one JSON object:
//   {"isa": "avx512", "host_isa": "avx512", "supported_isas": [...],
//    "cpu": "model name", "peak_gflops": {"1": best, ...},
//    "median_gflops": {"1": median, ...}, "probes": N}
//
// Probes: avx512: 16 chains of 512-bit FMAs; avx2: 12 chains of 256-bit FMAs
// (AVX2 has 16 ymm registers: 12 accumulators + 2 constants, no spills; Zen 2
// needs about 10, 2 pipes x 5-cycle latency); sse: 12 chains of 128-bit
// multiply + add (no FMA), the x86-64 baseline.
#if !defined(__x86_64__) && !defined(__i386__)
#error "peak_flops probes x86 vector units only"
#endif
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_THREADS = 64, MAX_PROBES = 1000 };

typedef enum { ISA_SSE, ISA_AVX2, ISA_AVX512, NUM_ISAS } Isa;
static const char *const kIsaNames[NUM_ISAS] = {"sse", "avx2", "avx512"};

/* One probe loop per ISA. Each returns a sink (so the loop is not dropped) and
   does `iters * flopsPerIter` FLOPs; iteration counts keep a probe at ~3-5 ms.
 */
typedef struct {
  float (*loop)(long iters);
  long iters;
  double flopsPerIter;
} Probe;

enum { CHAINS512 = 16, CHAINS256 = 12, CHAINS128 = 12 };

__attribute__((target("avx512f"))) static float loopAvx512(long iters) {
  __m512 acc[CHAINS512];
  for (int i = 0; i < CHAINS512; ++i)
    acc[i] = _mm512_set1_ps((float)i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS512; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float sink = 0;
  for (int i = 0; i < CHAINS512; ++i)
    sink += _mm512_reduce_add_ps(acc[i]);
  return sink;
}

__attribute__((target("avx2,fma"))) static float loopAvx2(long iters) {
  __m256 acc[CHAINS256];
  for (int i = 0; i < CHAINS256; ++i)
    acc[i] = _mm256_set1_ps((float)i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS256; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < CHAINS256; ++i)
    s = _mm256_add_ps(s, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  float sink = 0;
  for (int i = 0; i < 8; ++i)
    sink += lanes[i];
  return sink;
}

/* Baseline x86-64: separate multiply and add (2 FLOPs per lane and step); kept
   apart even when built with -mfma (GCC contracts a*b+c by default). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
static float
loopSse(long iters) {
  __m128 acc[CHAINS128];
  for (int i = 0; i < CHAINS128; ++i)
    acc[i] = _mm_set1_ps((float)i);
  const __m128 a = _mm_set1_ps(0.999999f), b = _mm_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < CHAINS128; ++i)
      acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], a), b);
  __m128 s = acc[0];
  for (int i = 1; i < CHAINS128; ++i)
    s = _mm_add_ps(s, acc[i]);
  float lanes[4];
  _mm_storeu_ps(lanes, s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

static const Probe kProbes[NUM_ISAS] = {
    [ISA_SSE] = {loopSse, 2000000, CHAINS128 * 4 * 2},
    [ISA_AVX2] = {loopAvx2, 1500000, CHAINS256 * 8 * 2},
    [ISA_AVX512] = {loopAvx512, 1000000, CHAINS512 * 16 * 2},
};

static int supported(Isa isa) {
  switch (isa) {
  case ISA_AVX512:
    return __builtin_cpu_supports("avx512f");
  case ISA_AVX2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  default:
    return 1; /* SSE2 is part of x86-64 */
  }
}

static Isa hostIsa(void) {
  for (int i = NUM_ISAS - 1; i > 0; --i)
    if (supported((Isa)i))
      return (Isa)i;
  return ISA_SSE;
}

/* The CPU's model name from /proc/cpuinfo, JSON-escaped ("unknown" if none). */
static void cpuModel(char *out, size_t size) {
  snprintf(out, size, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return;
  char line[512];
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "model name", 10) != 0)
      continue;
    const char *v = strchr(line, ':');
    if (!v)
      break;
    ++v;
    while (*v == ' ' || *v == '\t')
      ++v;
    size_t n = 0;
    for (; *v && *v != '\n' && n + 3 < size; ++v) {
      unsigned char c = (unsigned char)*v;
      if (c == '"' || c == '\\')
        out[n++] = '\\', out[n++] = (char)c;
      else if (c >= 0x20)
        out[n++] = (char)c;
    }
    out[n] = '\0';
    while (n > 0 && out[n - 1] == ' ')
      out[--n] = '\0';
    break;
  }
  fclose(f);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const Probe *gProbe;

static void *worker(void *out) {
  *(float *)out = gProbe->loop(gProbe->iters);
  return NULL;
}

/* GFLOP/s of one probe: `threads` threads run the loop at once (~3-5 ms). */
static double probe(int threads) {
  pthread_t pool[MAX_THREADS];
  float sinks[MAX_THREADS];
  double t0 = now();
  for (int t = 0; t < threads; ++t)
    if (pthread_create(&pool[t], NULL, worker, &sinks[t]) != 0) {
      fprintf(stderr, "peak_flops: error: cannot start thread %d\n", t);
      exit(1);
    }
  for (int t = 0; t < threads; ++t)
    pthread_join(pool[t], NULL);
  double s = now() - t0;
  return threads * (double)gProbe->iters * gProbe->flopsPerIter / s / 1e9;
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

static void usage(void) {
  fprintf(stderr, "usage: peak_flops [--isa avx512|avx2|sse|auto] "
                  "[--threads N]... [--probes N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  __builtin_cpu_init();
  int threadCounts[MAX_THREADS], numCounts = 0, probes = 200;
  const char *isaName = "auto";
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
    } else if (i + 1 < argc && strcmp(argv[i], "--isa") == 0) {
      isaName = argv[++i];
    } else {
      usage();
    }
  }
  Isa host = hostIsa(), isa = host;
  if (strcmp(isaName, "auto") != 0) {
    int found = 0;
    for (int i = 0; i < NUM_ISAS; ++i)
      if (strcmp(isaName, kIsaNames[i]) == 0)
        isa = (Isa)i, found = 1;
    if (!found) {
      fprintf(stderr, "peak_flops: error: unknown --isa '%s'\n", isaName);
      usage();
    }
    if (!supported(isa)) {
      fprintf(stderr,
              "peak_flops: error: this CPU does not support %s (its best: "
              "%s)\n",
              kIsaNames[isa], kIsaNames[host]);
      return 1;
    }
  }
  gProbe = &kProbes[isa];
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
  char cpu[256];
  cpuModel(cpu, sizeof(cpu));
  printf("{\"isa\": \"%s\", \"host_isa\": \"%s\", \"supported_isas\": [",
         kIsaNames[isa], kIsaNames[host]);
  for (int i = NUM_ISAS - 1, first = 1; i >= 0; --i)
    if (supported((Isa)i)) {
      printf("%s\"%s\"", first ? "" : ", ", kIsaNames[i]);
      first = 0;
    }
  printf("], \"cpu\": \"%s\", \"peak_gflops\": {", cpu);
  for (int c = 0; c < numCounts; ++c)
    printf("%s\"%d\": %.1f", c ? ", " : "", threadCounts[c], best[c]);
  printf("}, \"median_gflops\": {");
  for (int c = 0; c < numCounts; ++c)
    printf("%s\"%d\": %.1f", c ? ", " : "", threadCounts[c], median[c]);
  printf("}, \"probes\": %d}\n", probes);
  return 0;
}
