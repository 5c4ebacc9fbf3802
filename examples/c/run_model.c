/* A plain C program that runs a kiln-compiled model: create an instance, list
 * the inputs and outputs, fill the inputs with a fixed pattern, run, print
 * the outputs and the time per run.
 *
 * Build (see Makefile): cc -DMODEL=NAME -DMODEL_HEADER='"NAME.h"' -IOUTDIR
 *   run_model.c -LOUTDIR -lNAME -Wl,-rpath,OUTDIR -lm */
#define _POSIX_C_SOURCE 199309L
#include MODEL_HEADER

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* MODEL_fn: the model's API function `fn` (e.g. MODEL=bert: bert_create). */
#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define API(fn) JOIN(MODEL, fn)
#define STR2(x) #x
#define STR(x) STR2(x)

typedef API(model) model_t;

/* Input k, element i: a fixed pattern the tests reproduce. */
static void fill(void *data, kiln_dtype t, int64_t n, int k) {
  for (int64_t i = 0; i < n; ++i) {
    float f = sinf(0.37f * (float)i + (float)k);
    int64_t v = (i + k) % 7;
    switch (t) {
    case KILN_F32:
      ((float *)data)[i] = f;
      break;
    case KILN_F64:
      ((double *)data)[i] = f;
      break;
    case KILN_F16:
    case KILN_BF16:
      ((uint16_t *)data)[i] = 0;
      break;
    case KILN_I64:
      ((int64_t *)data)[i] = v;
      break;
    case KILN_I32:
      ((int32_t *)data)[i] = (int32_t)v;
      break;
    case KILN_I8:
      ((int8_t *)data)[i] = (int8_t)v;
      break;
    case KILN_U8:
      ((uint8_t *)data)[i] = (uint8_t)v;
      break;
    case KILN_BOOL:
      ((uint8_t *)data)[i] = (uint8_t)(i % 2);
      break;
    }
  }
}

static double element(const void *data, kiln_dtype t, int64_t i) {
  switch (t) {
  case KILN_F32:
    return ((const float *)data)[i];
  case KILN_F64:
    return ((const double *)data)[i];
  case KILN_I64:
    return (double)((const int64_t *)data)[i];
  case KILN_I32:
    return ((const int32_t *)data)[i];
  case KILN_I8:
    return ((const int8_t *)data)[i];
  case KILN_U8:
  case KILN_BOOL:
    return ((const uint8_t *)data)[i];
  default:
    return NAN; /* f16/bf16: not decoded here */
  }
}

static void print_info(const char *kind, int i, const char *name, int dtype,
                       int rank, const int64_t *shape, int is_output) {
  printf("%s %d: %s %s [", kind, i, name, kiln_dtype_name((kiln_dtype)dtype));
  for (int d = 0; d < rank; ++d) {
    const char *sym =
        is_output ? API(output_dim_name)(i, d) : API(input_dim_name)(i, d);
    printf("%s%lld%s%s", d ? "," : "", (long long)shape[d], sym[0] ? "=" : "",
           sym);
  }
  printf("]\n");
}

int main(int argc, char **argv) {
  int threads = 0, runs = 10;
  for (int a = 1; a + 1 < argc; a += 2) {
    if (!strcmp(argv[a], "--threads"))
      threads = atoi(argv[a + 1]);
    else if (!strcmp(argv[a], "--runs"))
      runs = atoi(argv[a + 1]);
  }
  model_t *m = NULL;
  if (API(create)(&m, threads) != KILN_OK) {
    fprintf(stderr, "create failed: %s\n", API(last_error)(NULL));
    return 1;
  }
  int nin = API(num_inputs)(), nout = API(num_outputs)();
  printf("model %s: %d inputs, %d outputs, %d threads\n", STR(MODEL), nin, nout,
         API(num_threads)(m));

  void **in = calloc((size_t)nin + 1, sizeof(void *));
  void **out = calloc((size_t)nout + 1, sizeof(void *));
  kiln_tensor *tin = calloc((size_t)nin + 1, sizeof(kiln_tensor));
  kiln_tensor *tout = calloc((size_t)nout + 1, sizeof(kiln_tensor));
  for (int i = 0; i < nin; ++i) {
    int64_t bytes = API(input_bytes)(i);
    kiln_dtype t = (kiln_dtype)API(input_dtype)(i);
    in[i] = malloc(bytes > 0 ? (size_t)bytes : 1);
    fill(in[i], t, bytes / (int64_t)kiln_dtype_size(t), i);
    tin[i] = (kiln_tensor){in[i], t, API(input_rank)(i), API(input_shape)(i)};
    print_info("input", i, API(input_name)(i), t, tin[i].rank, tin[i].shape, 0);
  }
  for (int i = 0; i < nout; ++i) {
    int64_t bytes = API(output_bytes)(i);
    out[i] = malloc(bytes > 0 ? (size_t)bytes : 1);
    tout[i] = (kiln_tensor){out[i], (kiln_dtype)API(output_dtype)(i),
                            API(output_rank)(i), API(output_shape)(i)};
    print_info("output", i, API(output_name)(i), tout[i].dtype, tout[i].rank,
               tout[i].shape, 1);
  }

  /* The first run checks dtypes and shapes; later ones only counts/NULLs. */
  int status = API(run_tensors)(m, tin, nin, tout, nout);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int r = 0; r < runs && status == KILN_OK; ++r)
    status = API(run)(m, (const void *const *)in, nin, out, nout);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (status != KILN_OK) {
    fprintf(stderr, "run failed (status %d): %s\n", status, API(last_error)(m));
    API(destroy)(m);
    return 1;
  }
  for (int i = 0; i < nout; ++i) {
    int64_t n = API(output_bytes)(i) / (int64_t)kiln_dtype_size(tout[i].dtype);
    double sum = 0;
    printf("%s:", API(output_name)(i));
    for (int64_t j = 0; j < n; ++j) {
      double v = element(out[i], tout[i].dtype, j);
      sum += v;
      if (j < 6)
        printf(" %.6g", v);
    }
    printf("%s sum=%.9g\n", n > 6 ? " ..." : "", sum);
  }
  double ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
  if (runs > 0)
    printf("%.3f ms per run (%d runs)\n", ms / runs, runs);

  for (int i = 0; i < nin; ++i)
    free(in[i]);
  for (int i = 0; i < nout; ++i)
    free(out[i]);
  free(in);
  free(out);
  free(tin);
  free(tout);
  API(destroy)(m);
  return 0;
}
