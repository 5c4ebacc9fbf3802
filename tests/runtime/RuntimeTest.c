/* Tests of the kiln C runtime with hand-written kernels (no Halide): model
 * tables, validation errors, copies, thread pool, external weights, busy. */
#include "kiln/kiln_runtime.h"

#include <HalideRuntime.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)
#define CHECK_ERR(status, want, inst, substr)                                  \
  do {                                                                         \
    int s_ = (status);                                                         \
    const char *m_ = kiln_rt_last_error(inst);                                 \
    if (s_ != (want) || !strstr(m_, (substr))) {                               \
      fprintf(stderr, "%s:%d: expected status %d with '%s', got %d: '%s'\n",   \
              __FILE__, __LINE__, (int)(want), (substr), s_, m_);              \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static float *fptr(void *arg) {
  return (float *)((halide_buffer_t *)arg)->host;
}

/* y[r][c] = x[r][c] + w[c], rows in parallel. */
typedef struct {
  const float *x, *w;
  float *y;
  int cols;
} bias_closure;
static int bias_row(void *uc, int r, uint8_t *closure) {
  (void)uc;
  bias_closure *c = (bias_closure *)closure;
  for (int j = 0; j < c->cols; ++j)
    c->y[r * c->cols + j] = c->x[r * c->cols + j] + c->w[j];
  return 0;
}
static int add_bias(void **args) {
  halide_buffer_t *x = (halide_buffer_t *)args[0];
  bias_closure c = {fptr(args[0]), fptr(args[1]), fptr(args[2]),
                    x->dim[0].extent};
  return kiln_rt_par_for(NULL, bias_row, 0, x->dim[1].extent, (uint8_t *)&c);
}
static int twice(void **args) {
  halide_buffer_t *y = (halide_buffer_t *)args[0];
  int n = y->dim[0].extent * y->dim[1].extent;
  for (int i = 0; i < n; ++i)
    fptr(args[1])[i] = 2 * fptr(args[0])[i];
  return 0;
}
static int fails(void **args) {
  (void)args;
  return 7;
}

static const int64_t xshape[] = {4, 8};
static const char *const xdims[] = {"batch", ""};
static const kiln_rt_io inputs[] = {{"x", KILN_F32, 2, xshape, xdims, 128}};
static const kiln_rt_io outputs[] = {
    {"z", KILN_F32, 2, xshape, xdims, 128},
    {"x_copy", KILN_F32, 2, xshape, xdims, 128}};
static const kiln_rt_dim dims[] = {{8, 1}, {4, 8}, {8, 1}};
static const kiln_rt_buffer buffers[] = {
    {KILN_RT_INPUT, 2, 32, 2, 0, 0, 0},
    {KILN_RT_WEIGHTS, 2, 32, 1, 0, 0, 2},
    {KILN_RT_ARENA, 2, 32, 2, 0, 64, 0},
    {KILN_RT_OUTPUT, 2, 32, 2, 0, 0, 0},
};
static const uint32_t args[] = {0, 1, 2, 2, 3};
static const kiln_rt_step steps[] = {{add_bias, 0, 3, "bias (kiln.add)"},
                                     {twice, 3, 2, "twice (kiln.mul)"}};
static const kiln_rt_step bad_steps[] = {{add_bias, 0, 3, "bias (kiln.add)"},
                                         {fails, 3, 2, "broken (kiln.mul)"}};
static const kiln_rt_copy copies[] = {{KILN_RT_INPUT, 0, 0, 1, 128}};
static const float weights[16]
    __attribute__((aligned(64))) = {1, 2, 3, 4, 5, 6, 7, 8};

static kiln_rt_model make_model(void) {
  kiln_rt_model m;
  memset(&m, 0, sizeof m);
  m.name = "toy";
  m.num_inputs = 1;
  m.num_outputs = 2;
  m.inputs = inputs;
  m.outputs = outputs;
  m.arena_bytes = 64 + 128;
  m.num_buffers = 4;
  m.num_dims = 3;
  m.num_args = 5;
  m.num_steps = 2;
  m.num_copies = 1;
  m.buffers = buffers;
  m.dims = dims;
  m.args = args;
  m.steps = steps;
  m.copies = copies;
  m.weights = (const unsigned char *)weights;
  m.weights_bytes = sizeof weights;
  m.weights_file = "toy.weights";
  m.anchor = (const void *)&make_model;
  return m;
}

static void fill(float *x, float base) {
  for (int i = 0; i < 32; ++i)
    x[i] = base + (float)i;
}

static int check_result(const float *x, const float *z, const float *copy) {
  for (int i = 0; i < 32; ++i)
    if (z[i] != 2 * (x[i] + weights[i % 8]) || copy[i] != x[i])
      return 0;
  return 1;
}

static void test_run(int threads) {
  kiln_rt_model m = make_model();
  kiln_rt_instance *inst = NULL;
  CHECK(kiln_rt_create(&m, &inst, threads, NULL) == KILN_OK);
  if (!inst)
    return;
  CHECK(kiln_rt_num_threads(inst) ==
        (threads ? threads : kiln_rt_num_threads(inst)));
  CHECK(kiln_rt_num_threads(inst) >= 1);
  float x[32], z[32], copy[32];
  for (int rep = 0; rep < 3; ++rep) {
    fill(x, (float)rep);
    const void *in[] = {x};
    void *out[] = {z, copy};
    CHECK(kiln_rt_run(inst, in, 1, out, 2) == KILN_OK);
    CHECK(check_result(x, z, copy));
  }
  kiln_rt_destroy(inst);
}

static void test_misuse(void) {
  kiln_rt_model m = make_model();
  kiln_rt_instance *inst = NULL;
  CHECK_ERR(kiln_rt_create(&m, NULL, 1, NULL), KILN_ERROR_INVALID_ARGUMENT,
            NULL, "NULL");
  CHECK_ERR(kiln_rt_create(&m, &inst, -2, NULL), KILN_ERROR_INVALID_ARGUMENT,
            NULL, "num_threads");
  CHECK(kiln_rt_create(&m, &inst, 1, NULL) == KILN_OK);
  float x[32] = {0}, z[32], copy[32];
  const void *in[] = {x};
  void *out[] = {z, copy};
  const void *in_null[] = {NULL};
  void *out_null[] = {z, NULL};
  CHECK_ERR(kiln_rt_run(inst, in, 2, out, 2), KILN_ERROR_INVALID_ARGUMENT, inst,
            "has 1 inputs, got 2");
  CHECK_ERR(kiln_rt_run(inst, in, 1, out, 1), KILN_ERROR_INVALID_ARGUMENT, inst,
            "has 2 outputs, got 1");
  CHECK_ERR(kiln_rt_run(inst, NULL, 1, out, 2), KILN_ERROR_INVALID_ARGUMENT,
            inst, "input array is NULL");
  CHECK_ERR(kiln_rt_run(inst, in_null, 1, out, 2), KILN_ERROR_INVALID_ARGUMENT,
            inst, "input 0 ('x') is NULL");
  CHECK_ERR(kiln_rt_run(inst, in, 1, out_null, 2), KILN_ERROR_INVALID_ARGUMENT,
            inst, "output 1 ('x_copy') is NULL");
  void *out_alias[] = {x, copy};
  CHECK_ERR(kiln_rt_run(inst, in, 1, out_alias, 2), KILN_ERROR_INVALID_ARGUMENT,
            inst, "overlaps input 0");
  void *out_same[] = {z, z};
  CHECK_ERR(kiln_rt_run(inst, in, 1, out_same, 2), KILN_ERROR_INVALID_ARGUMENT,
            inst, "overlaps output 0");
  CHECK_ERR(kiln_rt_run(NULL, in, 1, out, 2), KILN_ERROR_INVALID_ARGUMENT, NULL,
            "instance is NULL");

  int64_t good[] = {4, 8}, bad[] = {4, 9};
  kiln_tensor tin = {x, KILN_F32, 2, good};
  kiln_tensor tout[] = {{z, KILN_F32, 2, good}, {copy, KILN_F32, 2, good}};
  CHECK(kiln_rt_run_tensors(inst, &tin, 1, tout, 2) == KILN_OK);
  kiln_tensor wrong_dtype = {x, KILN_I32, 2, good};
  CHECK_ERR(kiln_rt_run_tensors(inst, &wrong_dtype, 1, tout, 2),
            KILN_ERROR_DTYPE, inst,
            "input 0 ('x'): expected dtype f32, got i32");
  kiln_tensor wrong_shape = {x, KILN_F32, 2, bad};
  CHECK_ERR(kiln_rt_run_tensors(inst, &wrong_shape, 1, tout, 2),
            KILN_ERROR_SHAPE, inst, "expected shape [4,8], got [4,9]");
  kiln_tensor wrong_rank = {x, KILN_F32, 1, good};
  CHECK_ERR(kiln_rt_run_tensors(inst, &wrong_rank, 1, tout, 2),
            KILN_ERROR_SHAPE, inst, "got [4]");
  kiln_tensor null_shape = {x, KILN_F32, 2, NULL};
  CHECK_ERR(kiln_rt_run_tensors(inst, &null_shape, 1, tout, 2),
            KILN_ERROR_SHAPE, inst, "expected shape [4,8]");
  kiln_tensor null_data = {NULL, KILN_F32, 2, good};
  CHECK_ERR(kiln_rt_run_tensors(inst, &null_data, 1, tout, 2),
            KILN_ERROR_INVALID_ARGUMENT, inst, "NULL data");
  kiln_tensor bad_out[] = {{z, KILN_F32, 2, good}, {copy, KILN_F64, 2, good}};
  CHECK_ERR(kiln_rt_run_tensors(inst, &tin, 1, bad_out, 2), KILN_ERROR_DTYPE,
            inst, "output 1 ('x_copy'): expected dtype f32, got f64");
  /* Buffers need their element's alignment; more is not required. */
  float spare[33];
  const void *in_misaligned[] = {(const char *)spare + 1};
  CHECK_ERR(kiln_rt_run(inst, in_misaligned, 1, out, 2),
            KILN_ERROR_INVALID_ARGUMENT, inst,
            "input 0 ('x') is not aligned to 4 bytes (f32 elements need it)");
  kiln_tensor misaligned_out[] = {{(char *)spare + 2, KILN_F32, 2, good},
                                  {copy, KILN_F32, 2, good}};
  CHECK_ERR(kiln_rt_run_tensors(inst, &tin, 1, misaligned_out, 2),
            KILN_ERROR_INVALID_ARGUMENT, inst,
            "output 0 ('z') is not aligned to 4 bytes");
  fill(spare + 1, 1);
  const void *in_shifted[] = {spare + 1};
  CHECK(kiln_rt_run(inst, in_shifted, 1, out, 2) == KILN_OK);
  CHECK(check_result(spare + 1, z, copy));
  /* A good run after errors still works. */
  fill(x, 3);
  CHECK(kiln_rt_run(inst, in, 1, out, 2) == KILN_OK);
  CHECK(check_result(x, z, copy));
  CHECK(strcmp(kiln_rt_last_error(inst), "") == 0);

  /* Queries. */
  CHECK(kiln_rt_io_at(&m, 0, 1) == NULL && kiln_rt_io_at(&m, 1, -1) == NULL);
  CHECK(kiln_rt_io_index(&m, 1, "x_copy") == 1);
  CHECK(kiln_rt_io_index(&m, 0, "nope") == -1);
  CHECK(strcmp(kiln_rt_dim_name(&m, 0, 0, 0), "batch") == 0);
  CHECK(kiln_rt_dim_name(&m, 0, 0, 2) == NULL);

  /* Profiling. */
  double secs = -1;
  int64_t calls = -1;
  CHECK(kiln_rt_set_profiling(inst, 1) == KILN_OK);
  CHECK(kiln_rt_run(inst, in, 1, out, 2) == KILN_OK);
  CHECK(kiln_rt_step_stats(inst, 1, &secs, &calls) == KILN_OK);
  CHECK(calls == 1 && secs >= 0);
  CHECK_ERR(kiln_rt_step_stats(inst, 2, &secs, &calls),
            KILN_ERROR_INVALID_ARGUMENT, inst, "out of range");
  kiln_rt_destroy(inst);
}

static void test_kernel_failure(void) {
  kiln_rt_model m = make_model();
  m.steps = bad_steps;
  kiln_rt_instance *inst = NULL;
  CHECK(kiln_rt_create(&m, &inst, 2, NULL) == KILN_OK);
  float x[32] = {0}, z[32], copy[32];
  const void *in[] = {x};
  void *out[] = {z, copy};
  CHECK_ERR(kiln_rt_run(inst, in, 1, out, 2), KILN_ERROR_KERNEL, inst,
            "kernel step 1 (broken (kiln.mul)) failed with code 7");
  kiln_rt_destroy(inst);
}

/* Tasks 0..n-1 wait until n tasks run at once: passes only when n threads
 * really share the loop. */
typedef struct {
  atomic_int started;
  atomic_int seen[4096];
  int n;
} rendezvous;
static int rendezvous_task(void *uc, int i, uint8_t *closure) {
  (void)uc;
  rendezvous *r = (rendezvous *)closure;
  atomic_fetch_add(&r->seen[i], 1);
  if (i < r->n) {
    atomic_fetch_add(&r->started, 1);
    time_t t0 = time(NULL);
    while (atomic_load(&r->started) < r->n)
      if (time(NULL) - t0 > 10)
        return 99;
  }
  return 0;
}
static int rendezvous_kernel(void **argv) {
  rendezvous *r = (rendezvous *)((halide_buffer_t *)argv[0])->host;
  /* Several loops in a row, as Halide kernels do. */
  for (int rep = 0; rep < 20; ++rep) {
    atomic_store(&r->started, 0);
    for (int i = 0; i < 4096; ++i)
      atomic_store(&r->seen[i], 0);
    int rc = kiln_rt_par_for(NULL, rendezvous_task, 0, 4096, (uint8_t *)r);
    if (rc)
      return rc;
    for (int i = 0; i < 4096; ++i)
      if (atomic_load(&r->seen[i]) != 1)
        return 98;
  }
  return 0;
}

static void test_pool(int threads) {
  static rendezvous r;
  r.n = threads;
  /* A model whose only step is the rendezvous kernel; its one "buffer" is
   * used as an opaque pointer. */
  kiln_rt_model m = make_model();
  static kiln_rt_step step = {rendezvous_kernel, 0, 1, "rendezvous"};
  static const uint32_t arg0[] = {0};
  m.steps = &step;
  m.num_steps = 1;
  m.args = arg0;
  m.num_args = 1;
  m.num_copies = 0;
  kiln_rt_instance *inst = NULL;
  CHECK(kiln_rt_create(&m, &inst, threads, NULL) == KILN_OK);
  if (!inst)
    return;
  /* Point the kernel's argument at the rendezvous block. */
  float x[32] = {0}, z[32], copy[32];
  const void *in[] = {&r};
  void *out[] = {z, copy};
  (void)x;
  int rc = kiln_rt_run(inst, in, 1, out, 2);
  if (rc != KILN_OK)
    fprintf(stderr, "pool(%d): %s\n", threads, kiln_rt_last_error(inst));
  CHECK(rc == KILN_OK);
  kiln_rt_destroy(inst);
}

static void *instance_thread(void *arg) {
  int *ok = (int *)arg;
  kiln_rt_model m = make_model();
  kiln_rt_instance *inst = NULL;
  *ok = kiln_rt_create(&m, &inst, 2, NULL) == KILN_OK;
  float x[32], z[32], copy[32];
  for (int rep = 0; rep < 200 && *ok; ++rep) {
    fill(x, (float)rep);
    const void *in[] = {x};
    void *out[] = {z, copy};
    *ok =
        kiln_rt_run(inst, in, 1, out, 2) == KILN_OK && check_result(x, z, copy);
  }
  kiln_rt_destroy(inst);
  return NULL;
}

static void test_instances_in_parallel(void) {
  pthread_t t[4];
  int ok[4];
  for (int i = 0; i < 4; ++i)
    pthread_create(&t[i], NULL, instance_thread, &ok[i]);
  for (int i = 0; i < 4; ++i) {
    pthread_join(t[i], NULL);
    CHECK(ok[i]);
  }
}

static void write_weights(const char *path, uint64_t id, uint64_t bytes) {
  unsigned char header[KILN_RT_WEIGHTS_HEADER] = {0};
  memcpy(header, KILN_RT_WEIGHTS_MAGIC, 8);
  memcpy(header + 8, &id, 8);
  memcpy(header + 16, &bytes, 8);
  FILE *f = fopen(path, "wb");
  fwrite(header, 1, sizeof header, f);
  fwrite(weights, 1, bytes, f);
  fclose(f);
}

static void test_external_weights(void) {
  char dir[] = "/tmp/kiln_rt_test_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char good[256], stale[256], missing[256];
  snprintf(good, sizeof good, "%s/good.weights", dir);
  snprintf(stale, sizeof stale, "%s/stale.weights", dir);
  snprintf(missing, sizeof missing, "%s/missing.weights", dir);
  write_weights(good, 0x1234, sizeof weights);
  write_weights(stale, 0x9999, sizeof weights);
  kiln_rt_model m = make_model();
  m.weights = NULL;
  m.weights_id = 0x1234;
  kiln_rt_instance *inst = NULL;
  CHECK(kiln_rt_create(&m, &inst, 1, good) == KILN_OK);
  if (inst) {
    float x[32], z[32], copy[32];
    fill(x, 1);
    const void *in[] = {x};
    void *out[] = {z, copy};
    CHECK(kiln_rt_run(inst, in, 1, out, 2) == KILN_OK);
    CHECK(check_result(x, z, copy));
    kiln_rt_destroy(inst);
  }
  CHECK_ERR(kiln_rt_create(&m, &inst, 1, stale), KILN_ERROR_IO, NULL,
            "does not belong to this build");
  CHECK(inst == NULL);
  CHECK_ERR(kiln_rt_create(&m, &inst, 1, missing), KILN_ERROR_IO, NULL,
            "cannot open weights file");
  m.weights_bytes = 128;
  CHECK_ERR(kiln_rt_create(&m, &inst, 1, good), KILN_ERROR_IO, NULL,
            "expects 192");
  unlink(good);
  unlink(stale);
  rmdir(dir);
}

/* A kernel that blocks until released, to hold an instance. */
static atomic_int entered, released;
static int blocking(void **argv) {
  (void)argv;
  atomic_store(&entered, 1);
  while (!atomic_load(&released))
    usleep(1000);
  return 0;
}
static void *run_blocking(void *arg) {
  kiln_rt_instance *inst = (kiln_rt_instance *)arg;
  float x[32] = {0}, z[32], copy[32];
  const void *in[] = {x};
  void *out[] = {z, copy};
  kiln_rt_run(inst, in, 1, out, 2);
  return NULL;
}
static void test_busy(void) {
  kiln_rt_model m = make_model();
  static kiln_rt_step step = {blocking, 0, 0, "blocking"};
  m.steps = &step;
  m.num_steps = 1;
  kiln_rt_instance *inst = NULL;
  CHECK(kiln_rt_create(&m, &inst, 1, NULL) == KILN_OK);
  pthread_t t;
  pthread_create(&t, NULL, run_blocking, inst);
  while (!atomic_load(&entered))
    usleep(1000);
  float x[32] = {0}, z[32], copy[32];
  const void *in[] = {x};
  void *out[] = {z, copy};
  CHECK_ERR(kiln_rt_run(inst, in, 1, out, 2), KILN_ERROR_BUSY, inst,
            "running on another thread");
  atomic_store(&released, 1);
  pthread_join(t, NULL);
  kiln_rt_destroy(inst);
}

/* Halide scratch memory (runtime/lib/scratch.c). */
void *kiln_rt_scratch_malloc(void *user_context, size_t bytes);
void kiln_rt_scratch_free(void *user_context, void *ptr);
void kiln_rt_scratch_init(void);

static void *scratch_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; ++i) {
    void *p = kiln_rt_scratch_malloc(NULL, 4096 + (size_t)i);
    memset(p, 1, 4096);
    kiln_rt_scratch_free(NULL, p);
  }
  return NULL;
}

static void test_scratch(void) {
  kiln_rt_scratch_init();
  void *a = kiln_rt_scratch_malloc(NULL, 100000);
  void *b = kiln_rt_scratch_malloc(NULL, 3000);
  CHECK(a && b && ((uintptr_t)a % 128) == 0 && ((uintptr_t)b % 128) == 0);
  memset(a, 0, 100000);
  kiln_rt_scratch_free(NULL, a);
  kiln_rt_scratch_free(NULL, b);
  /* The same requests come back from the stash... */
  CHECK(kiln_rt_scratch_malloc(NULL, 100000) == a);
  CHECK(kiln_rt_scratch_malloc(NULL, 3000) == b);
  /* ...but a block much larger than asked is not handed out. */
  kiln_rt_scratch_free(NULL, a);
  void *c = kiln_rt_scratch_malloc(NULL, 100);
  CHECK(c != a);
  kiln_rt_scratch_free(NULL, b);
  kiln_rt_scratch_free(NULL, c);
  kiln_rt_scratch_free(NULL, NULL);
  /* Many blocks: the stash is bounded, the rest is freed. */
  void *many[20];
  for (int i = 0; i < 20; ++i)
    many[i] = kiln_rt_scratch_malloc(NULL, 64 * (size_t)(i + 1));
  for (int i = 0; i < 20; ++i)
    kiln_rt_scratch_free(NULL, many[i]);
  pthread_t t;
  pthread_create(&t, NULL, scratch_thread, NULL);
  pthread_join(t, NULL);
}

/* Index inputs (kiln_rt_index_check): ids in [-5, 5) of a gather, copied to
 * the output when they all are. */
static void test_index_checks(void) {
  static const int64_t shape[] = {4};
  static const char *const names[] = {""};
  static const kiln_rt_io ids_in[] = {{"ids", KILN_I64, 1, shape, names, 32}};
  static const kiln_rt_io ids_out[] = {{"y", KILN_I64, 1, shape, names, 32}};
  static const kiln_rt_copy copy_ids[] = {{KILN_RT_INPUT, 0, 0, 0, 32}};
  static const kiln_rt_index_check checks[] = {{0, 5, "embed (kiln.gather)"}};
  kiln_rt_model m;
  memset(&m, 0, sizeof m);
  m.name = "ids";
  m.num_inputs = m.num_outputs = 1;
  m.inputs = ids_in;
  m.outputs = ids_out;
  m.num_copies = 1;
  m.copies = copy_ids;
  m.anchor = (const void *)&test_index_checks;
  m.num_index_checks = 1;
  m.index_checks = checks;
  kiln_rt_instance *inst = NULL;
  CHECK(kiln_rt_create(&m, &inst, 1, NULL) == KILN_OK);
  if (!inst)
    return;
  int64_t ids[4] = {0, 4, -5, -1}, y[4] = {0};
  const void *in[] = {ids};
  void *out[] = {y};
  CHECK(kiln_rt_run(inst, in, 1, out, 1) == KILN_OK);
  CHECK(memcmp(ids, y, sizeof ids) == 0);
  ids[2] = 5;
  memset(y, 0, sizeof y);
  CHECK_ERR(kiln_rt_run(inst, in, 1, out, 1), KILN_ERROR_INVALID_ARGUMENT, inst,
            "input 0 ('ids'): element 2 is 5, out of range [-5, 5) for the "
            "indices of embed (kiln.gather)");
  CHECK(y[0] == 0 && y[1] == 0); /* nothing ran */
  ids[2] = -6;
  CHECK_ERR(kiln_rt_run(inst, in, 1, out, 1), KILN_ERROR_INVALID_ARGUMENT, inst,
            "element 2 is -6");
  ids[2] = INT64_MIN;
  CHECK_ERR(kiln_rt_run(inst, in, 1, out, 1), KILN_ERROR_INVALID_ARGUMENT, inst,
            "element 2 is -9223372036854775808");
  int64_t shape_ok[] = {4};
  kiln_tensor tin = {ids, KILN_I64, 1, shape_ok};
  kiln_tensor tout = {y, KILN_I64, 1, shape_ok};
  CHECK_ERR(kiln_rt_run_tensors(inst, &tin, 1, &tout, 1),
            KILN_ERROR_INVALID_ARGUMENT, inst, "out of range [-5, 5)");
  ids[2] = 3;
  CHECK(kiln_rt_run_tensors(inst, &tin, 1, &tout, 1) == KILN_OK);
  CHECK(memcmp(ids, y, sizeof ids) == 0);
  kiln_rt_destroy(inst);
}

int main(void) {
  test_scratch();
  test_run(1);
  test_run(2);
  test_run(0);
  test_misuse();
  test_index_checks();
  test_kernel_failure();
  test_pool(2);
  test_pool(4);
  test_instances_in_parallel();
  test_external_weights();
  test_busy();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("runtime tests passed\n");
  return 0;
}
