/* CPU instruction-set detection (CPUID + XGETBV) for picking a kernel variant,
 * and the $KILN_MAX_CPU_ISA cap; also linked into the compiler for `host`. */
#include "kiln/kiln_runtime.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

uint32_t kiln_rt_cpu_isa(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return 0;
  uint32_t isa = 0;
  int sse41 = (c >> 19) & 1, fma = (c >> 12) & 1, osxsave = (c >> 27) & 1,
      avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  if (!sse41)
    return 0;
  isa |= KILN_ISA_SSE41;
  /* The OS must save the YMM (bits 1-2) and ZMM/opmask (bits 5-7) state. */
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  int ymmOs = (xcr0 & 0x6) == 0x6, zmmOs = (xcr0 & 0xe6) == 0xe6;
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0, b71 = 0, c71 = 0, d71 = 0;
  unsigned maxLeaf = __get_cpuid_max(0, NULL);
  if (maxLeaf >= 7) {
    __cpuid_count(7, 0, a, b7, c7, d7);
    __cpuid_count(7, 1, a71, b71, c71, d71);
  }
  int avx2 = (b7 >> 5) & 1;
  if (!(avx && avx2 && fma && f16c && ymmOs))
    return isa;
  isa |= KILN_ISA_AVX2;
  int f = (b7 >> 16) & 1, dq = (b7 >> 17) & 1, cd = (b7 >> 28) & 1,
      bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
  if (!(f && dq && cd && bw && vl && zmmOs))
    return isa;
  isa |= KILN_ISA_AVX512;
  int vnni = (c7 >> 11) & 1, bf16 = (a71 >> 5) & 1;
  if (vnni && bf16)
    isa |= KILN_ISA_AVX512_BF16;
  return isa;
}
#else
uint32_t kiln_rt_cpu_isa(void) { return 0; }
#endif

uint32_t kiln_rt_usable_isa(const char **error) {
  uint32_t isa = kiln_rt_cpu_isa();
  const char *cap = getenv("KILN_MAX_CPU_ISA");
  if (!cap || !*cap)
    return isa;
  if (strncmp(cap, "x86-64-", 7) == 0)
    cap += 7;
  uint32_t mask;
  if (strcmp(cap, "x86-64") == 0 || strcmp(cap, "sse41") == 0)
    mask = KILN_ISA_SSE41;
  else if (strcmp(cap, "avx2") == 0)
    mask = KILN_ISA_SSE41 | KILN_ISA_AVX2;
  else if (strcmp(cap, "avx512") == 0)
    mask = KILN_ISA_SSE41 | KILN_ISA_AVX2 | KILN_ISA_AVX512;
  else if (strcmp(cap, "avx512-bf16") == 0 || strcmp(cap, "avx512_bf16") == 0)
    mask = ~0u;
  else {
    if (error)
      *error = "KILN_MAX_CPU_ISA must be one of x86-64, avx2, avx512, "
               "avx512-bf16";
    return 0;
  }
  return isa & mask;
}
