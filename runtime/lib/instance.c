/* Model instances: arena, weights (embedded or mmapped), Halide buffer
 * descriptors, input validation, running the kernel steps, errors. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Errors of calls that have no instance (create, NULL instance), and of a
 * run refused because another thread holds the instance: that thread owns the
 * instance's error buffer, so the refusal goes here, and last_error(inst) on
 * this thread reads it until this thread next holds `inst` (TSan found the
 * shared buffer racing). */
static __thread char tls_error[KILN_RT_ERROR_CAPACITY];
static __thread const struct kiln_rt_instance *tls_refused;

static void vformat_error(char *buf, int append, const char *fmt, va_list ap) {
  size_t used = 0;
  if (append && buf[0]) {
    used = strlen(buf);
    if (used + 2 < KILN_RT_ERROR_CAPACITY) {
      memcpy(buf + used, "; ", 3);
      used += 2;
    }
  }
  if (used < KILN_RT_ERROR_CAPACITY)
    vsnprintf(buf + used, KILN_RT_ERROR_CAPACITY - used, fmt, ap);
}

void kiln_rt_error(struct kiln_rt_instance *inst, int append, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  if (inst) {
    pthread_mutex_lock(&inst->error_mutex);
    vformat_error(inst->error, append, fmt, ap);
    pthread_mutex_unlock(&inst->error_mutex);
  } else {
    vformat_error(tls_error, append, fmt, ap);
  }
  va_end(ap);
}

#define FAIL(inst, status, ...)                                                \
  do {                                                                         \
    kiln_rt_error((inst), 0, __VA_ARGS__);                                     \
    return (status);                                                           \
  } while (0)

const char *kiln_rt_last_error(const kiln_rt_instance *inst) {
  return inst && inst != tls_refused ? inst->error : tls_error;
}

const char *kiln_rt_target(const kiln_rt_instance *inst) {
  return inst && inst->variant ? inst->variant->target : "";
}

/* Names of the ISA levels in `isa` ("x86-64-avx2" for its best one). */
static const char *isa_name(uint32_t isa) {
  if (isa & KILN_ISA_AVX512_BF16)
    return "x86-64-avx512-bf16";
  if (isa & KILN_ISA_AVX512)
    return "x86-64-avx512";
  if (isa & KILN_ISA_AVX2)
    return "x86-64-avx2";
  if (isa & KILN_ISA_SSE41)
    return "x86-64";
  return "no SSE4.1";
}

/* The model's best kernel variant for this CPU, or NULL with the error set. */
static const kiln_rt_variant *pick_variant(const kiln_rt_model *m) {
  const char *capError = NULL;
  uint32_t isa = kiln_rt_usable_isa(&capError);
  if (capError) {
    kiln_rt_error(NULL, 0, "create: %s, got '%s'", capError,
                  getenv("KILN_MAX_CPU_ISA"));
    return NULL;
  }
  for (uint32_t v = 0; v < m->num_variants; ++v)
    if ((m->variants[v].isa & isa) == m->variants[v].isa)
      return &m->variants[v];
  char built[256] = "";
  for (uint32_t v = 0; v < m->num_variants; ++v) {
    size_t n = strlen(built);
    snprintf(built + n, sizeof built - n, "%s%s", v ? ", " : "",
             m->variants[v].target);
  }
  kiln_rt_error(NULL, 0,
                "create: this library was compiled for %s, but this CPU "
                "supports up to %s%s; recompile with --target=x86-64 (or a "
                "list such as --target=x86-64,x86-64-avx2,x86-64-avx512)",
                built, isa_name(isa),
                getenv("KILN_MAX_CPU_ISA") ? " (capped by KILN_MAX_CPU_ISA)"
                                           : "");
  return NULL;
}

int kiln_rt_num_threads(const kiln_rt_instance *inst) {
  return inst ? inst->num_threads : 0;
}

static int machine_cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* Maps the weights file; the default path is `weights_file` beside the
 * library that holds `model->anchor`. */
static int map_weights(kiln_rt_instance *inst, const char *path) {
  const kiln_rt_model *m = inst->model;
  char buf[4096];
  if (!path) {
    Dl_info info;
    if (!dladdr(m->anchor, &info) || !info.dli_fname) {
      kiln_rt_error(NULL, 0,
                    "cannot locate the library of model '%s' to find "
                    "its weights file %s",
                    m->name, m->weights_file);
      return KILN_ERROR_IO;
    }
    const char *slash = strrchr(info.dli_fname, '/');
    int dir = slash ? (int)(slash - info.dli_fname) : 0;
    snprintf(buf, sizeof buf, "%.*s%s%s", dir, info.dli_fname, slash ? "/" : "",
             m->weights_file);
    path = buf;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    kiln_rt_error(NULL, 0, "cannot open weights file '%s': %s", path,
                  strerror(errno));
    return KILN_ERROR_IO;
  }
  struct stat st;
  uint64_t want = KILN_RT_WEIGHTS_HEADER + m->weights_bytes;
  if (fstat(fd, &st) != 0) {
    kiln_rt_error(NULL, 0, "cannot read weights file '%s': %s", path,
                  strerror(errno));
    close(fd);
    return KILN_ERROR_IO;
  }
  if ((uint64_t)st.st_size != want) {
    close(fd);
    kiln_rt_error(NULL, 0,
                  "weights file '%s' has %lld bytes, model '%s' expects %llu",
                  path, (long long)st.st_size, m->name,
                  (unsigned long long)want);
    return KILN_ERROR_IO;
  }
  void *base = mmap(NULL, (size_t)want, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (base == MAP_FAILED) {
    kiln_rt_error(NULL, 0, "cannot map weights file '%s': %s", path,
                  strerror(errno));
    return KILN_ERROR_IO;
  }
  const unsigned char *h = (const unsigned char *)base;
  uint64_t id;
  memcpy(&id, h + 8, sizeof id);
  if (memcmp(h, KILN_RT_WEIGHTS_MAGIC, 8) != 0 || id != m->weights_id) {
    munmap(base, (size_t)want);
    kiln_rt_error(NULL, 0,
                  "weights file '%s' does not belong to this build of "
                  "model '%s' (recompile, or pass the right file)",
                  path, m->name);
    return KILN_ERROR_IO;
  }
  inst->map_base = base;
  inst->map_bytes = (size_t)want;
  inst->weights = h + KILN_RT_WEIGHTS_HEADER;
  return KILN_OK;
}

static unsigned char *root_base(kiln_rt_instance *inst, int root) {
  switch (root) {
  case KILN_RT_ARENA:
    return inst->arena;
  case KILN_RT_WEIGHTS:
    return (unsigned char *)inst->weights;
  }
  return NULL;
}

/* Frees everything an instance owns except its (stopped or never started) pool. */
static void release_instance(kiln_rt_instance *inst) {
  if (inst->map_base)
    munmap(inst->map_base, inst->map_bytes);
  free(inst->arena);
  free(inst->buffers);
  free(inst->dims);
  free(inst->argv);
  free(inst->step_seconds);
  free(inst->step_calls);
  free(inst->input_ptrs);
  free(inst->output_ptrs);
  pthread_mutex_destroy(&inst->error_mutex);
  free(inst);
}

int kiln_rt_create(const kiln_rt_model *m, kiln_rt_instance **out,
                   int num_threads, const char *weights_path) {
  if (!out)
    FAIL(NULL, KILN_ERROR_INVALID_ARGUMENT,
         "create: the output instance pointer is NULL");
  *out = NULL;
  if (num_threads < 0)
    FAIL(NULL, KILN_ERROR_INVALID_ARGUMENT,
         "create: num_threads must be >= 0 (0: default), got %d", num_threads);
  const kiln_rt_variant *variant = NULL;
  if (m->num_variants > 0 && !(variant = pick_variant(m)))
    return KILN_ERROR_UNSUPPORTED;
  kiln_rt_install_halide_hooks();
  kiln_rt_instance *inst = (kiln_rt_instance *)calloc(1, sizeof *inst);
  if (!inst)
    FAIL(NULL, KILN_ERROR_OUT_OF_MEMORY, "create: out of memory");
  inst->model = m;
  inst->variant = variant;
  pthread_mutex_init(&inst->error_mutex, NULL);
  atomic_init(&inst->busy, 0);
  int status = KILN_OK;
  if (m->arena_bytes > 0) {
    void *p = NULL;
    size_t bytes = (size_t)((m->arena_bytes + KILN_RT_ALIGN - 1) &
                            ~(uint64_t)(KILN_RT_ALIGN - 1));
    if (posix_memalign(&p, KILN_RT_ALIGN, bytes) != 0) {
      kiln_rt_error(NULL, 0, "create: cannot allocate the %llu-byte arena",
                    (unsigned long long)m->arena_bytes);
      status = KILN_ERROR_OUT_OF_MEMORY;
      goto fail;
    }
    inst->arena = (unsigned char *)p;
  }
  if (m->weights || m->weights_bytes == 0)
    inst->weights = m->weights;
  else if ((status = map_weights(inst, weights_path)) != KILN_OK)
    goto fail;
  inst->buffers =
      (halide_buffer_t *)calloc(m->num_buffers + 1, sizeof(halide_buffer_t));
  inst->dims =
      (halide_dimension_t *)calloc(m->num_dims + 1, sizeof(halide_dimension_t));
  inst->argv = (void **)calloc(m->num_args + 1, sizeof(void *));
  inst->step_seconds = (double *)calloc(m->num_steps + 1, sizeof(double));
  inst->step_calls = (int64_t *)calloc(m->num_steps + 1, sizeof(int64_t));
  inst->input_ptrs = (void **)calloc((size_t)m->num_inputs + 1, sizeof(void *));
  inst->output_ptrs =
      (void **)calloc((size_t)m->num_outputs + 1, sizeof(void *));
  if (!inst->buffers || !inst->dims || !inst->argv || !inst->step_seconds ||
      !inst->step_calls || !inst->input_ptrs || !inst->output_ptrs) {
    kiln_rt_error(NULL, 0, "create: out of memory");
    status = KILN_ERROR_OUT_OF_MEMORY;
    goto fail;
  }
  for (uint32_t i = 0; i < m->num_dims; ++i) {
    inst->dims[i].min = 0;
    inst->dims[i].extent = m->dims[i].extent;
    inst->dims[i].stride = m->dims[i].stride;
  }
  for (uint32_t i = 0; i < m->num_buffers; ++i) {
    const kiln_rt_buffer *d = &m->buffers[i];
    halide_buffer_t *b = &inst->buffers[i];
    b->type.code = (halide_type_code_t)d->type_code;
    b->type.bits = d->type_bits;
    b->type.lanes = 1;
    b->dimensions = d->rank;
    b->dim = &inst->dims[d->first_dim];
    unsigned char *base = root_base(inst, d->root);
    /* Never NULL (that would ask Halide for a bounds query). */
    b->host = base ? base + d->offset : (uint8_t *)inst;
  }
  for (uint32_t i = 0; i < m->num_args; ++i)
    inst->argv[i] = &inst->buffers[m->args[i]];
  inst->num_threads = num_threads > 0          ? num_threads
                      : m->default_threads > 0 ? m->default_threads
                                               : machine_cores();
  int rc = kiln_rt_pool_start(&inst->pool, inst, inst->num_threads);
  if (rc != 0) {
    kiln_rt_error(NULL, 0, "create: cannot start %d threads: %s",
                  inst->num_threads, strerror(rc));
    status = KILN_ERROR_OUT_OF_MEMORY;
    inst->pool.num_workers = 0;
    goto fail;
  }
  *out = inst;
  return KILN_OK;
fail:
  release_instance(inst);
  return status;
}

void kiln_rt_destroy(kiln_rt_instance *inst) {
  if (!inst)
    return;
  kiln_rt_pool_stop(&inst->pool);
  release_instance(inst);
}

void *kiln_rt_buffer_host(void *buffer) {
  return ((halide_buffer_t *)buffer)->host;
}

const kiln_rt_io *kiln_rt_io_at(const kiln_rt_model *m, int is_output, int i) {
  int n = is_output ? m->num_outputs : m->num_inputs;
  if (i < 0 || i >= n)
    return NULL;
  return is_output ? &m->outputs[i] : &m->inputs[i];
}

int kiln_rt_io_index(const kiln_rt_model *m, int is_output, const char *name) {
  int n = is_output ? m->num_outputs : m->num_inputs;
  const kiln_rt_io *list = is_output ? m->outputs : m->inputs;
  if (!name)
    return -1;
  for (int i = 0; i < n; ++i)
    if (strcmp(list[i].name, name) == 0)
      return i;
  return -1;
}

const char *kiln_rt_dim_name(const kiln_rt_model *m, int is_output, int i,
                             int d) {
  const kiln_rt_io *io = kiln_rt_io_at(m, is_output, i);
  if (!io || d < 0 || d >= io->rank)
    return NULL;
  return io->dim_names[d];
}

static const char *io_kind(int is_output) {
  return is_output ? "output" : "input";
}

/* Checks the pointer lists: count, NULL list, NULL entries. */
static int check_pointers(kiln_rt_instance *inst, int is_output,
                          const void *const *ptrs, int count) {
  const kiln_rt_model *m = inst->model;
  int want = is_output ? m->num_outputs : m->num_inputs;
  if (count != want)
    FAIL(inst, KILN_ERROR_INVALID_ARGUMENT, "model '%s' has %d %ss, got %d",
         m->name, want, io_kind(is_output), count);
  if (want > 0 && !ptrs)
    FAIL(inst, KILN_ERROR_INVALID_ARGUMENT, "the %s array is NULL",
         io_kind(is_output));
  for (int i = 0; i < want; ++i)
    if (!ptrs[i])
      FAIL(inst, KILN_ERROR_INVALID_ARGUMENT, "%s %d ('%s') is NULL",
           io_kind(is_output), i, kiln_rt_io_at(m, is_output, i)->name);
  return KILN_OK;
}

static int overlaps(const void *a, uint64_t an, const void *b, uint64_t bn) {
  const char *x = (const char *)a, *y = (const char *)b;
  return an > 0 && bn > 0 && x < y + bn && y < x + an;
}

/* Outputs are written while inputs are still read: they must not overlap
 * inputs or each other. */
static int check_aliasing(kiln_rt_instance *inst, const void *const *in,
                          void *const *out) {
  const kiln_rt_model *m = inst->model;
  for (int o = 0; o < m->num_outputs; ++o) {
    uint64_t on = m->outputs[o].bytes;
    for (int i = 0; i < m->num_inputs; ++i)
      if (overlaps(out[o], on, in[i], m->inputs[i].bytes))
        FAIL(inst, KILN_ERROR_INVALID_ARGUMENT,
             "output %d ('%s') overlaps input %d ('%s'); outputs need their "
             "own memory",
             o, m->outputs[o].name, i, m->inputs[i].name);
    for (int p = 0; p < o; ++p)
      if (overlaps(out[o], on, out[p], m->outputs[p].bytes))
        FAIL(inst, KILN_ERROR_INVALID_ARGUMENT,
             "output %d ('%s') overlaps output %d ('%s')", o,
             m->outputs[o].name, p, m->outputs[p].name);
  }
  return KILN_OK;
}

/* Kernels assume buffers aligned to their element size (LLVM kernels load
 * with that alignment; Halide's default host alignment is the type's size). */
static int check_alignment(kiln_rt_instance *inst, int is_output,
                           const void *const *ptrs) {
  const kiln_rt_model *m = inst->model;
  int n = is_output ? m->num_outputs : m->num_inputs;
  for (int i = 0; i < n; ++i) {
    const kiln_rt_io *io = kiln_rt_io_at(m, is_output, i);
    size_t align = kiln_dtype_size(io->dtype);
    if (align > 1 && (uintptr_t)ptrs[i] % align != 0)
      FAIL(inst, KILN_ERROR_INVALID_ARGUMENT,
           "%s %d ('%s') is not aligned to %zu bytes (%s elements need it)",
           io_kind(is_output), i, io->name, align, kiln_dtype_name(io->dtype));
  }
  return KILN_OK;
}

/* Index inputs must select within their axis (kernels do not check). */
static int check_indices(kiln_rt_instance *inst, const void *const *in) {
  const kiln_rt_model *m = inst->model;
  for (uint32_t c = 0; c < m->num_index_checks; ++c) {
    const kiln_rt_index_check *ck = &m->index_checks[c];
    const kiln_rt_io *io = &m->inputs[ck->input];
    size_t elem = kiln_dtype_size(io->dtype);
    uint64_t n = elem ? io->bytes / elem : 0;
    for (uint64_t e = 0; e < n; ++e) {
      int64_t v = io->dtype == KILN_I64 ? ((const int64_t *)in[ck->input])[e]
                  : io->dtype == KILN_I32
                      ? (int64_t)((const int32_t *)in[ck->input])[e]
                      : 0;
      if (v < -ck->size || v >= ck->size)
        FAIL(inst, KILN_ERROR_INVALID_ARGUMENT,
             "input %u ('%s'): element %llu is %lld, out of range [%lld, "
             "%lld) for the indices of %s",
             ck->input, io->name, (unsigned long long)e, (long long)v,
             (long long)-ck->size, (long long)ck->size, ck->node);
    }
  }
  return KILN_OK;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run_steps(kiln_rt_instance *inst, const void *const *in,
                     void *const *out) {
  const kiln_rt_model *m = inst->model;
  for (uint32_t i = 0; i < m->num_buffers; ++i) {
    const kiln_rt_buffer *d = &m->buffers[i];
    if (d->root == KILN_RT_INPUT)
      inst->buffers[i].host = (uint8_t *)in[d->index] + d->offset;
    else if (d->root == KILN_RT_OUTPUT)
      inst->buffers[i].host = (uint8_t *)out[d->index] + d->offset;
  }
  for (uint32_t s = 0; s < m->num_steps; ++s) {
    const kiln_rt_step *step = &m->steps[s];
    double t0 = inst->profiling ? now_seconds() : 0;
    kiln_rt_kernel_fn fn = inst->variant ? inst->variant->fns[s] : step->fn;
    int rc = fn(&inst->argv[step->first_arg]);
    if (inst->profiling) {
      inst->step_seconds[s] += now_seconds() - t0;
      inst->step_calls[s] += 1;
    }
    if (rc != 0) {
      char halide[KILN_RT_ERROR_CAPACITY];
      pthread_mutex_lock(&inst->error_mutex);
      memcpy(halide, inst->error, sizeof halide);
      pthread_mutex_unlock(&inst->error_mutex);
      FAIL(inst, KILN_ERROR_KERNEL,
           "kernel step %u (%s) failed with code %d%s%s", s, step->name, rc,
           halide[0] ? ": " : "", halide);
    }
  }
  for (uint32_t c = 0; c < m->num_copies; ++c) {
    const kiln_rt_copy *cp = &m->copies[c];
    const unsigned char *src;
    switch (cp->src_root) {
    case KILN_RT_INPUT:
      src = (const unsigned char *)in[cp->src_index];
      break;
    case KILN_RT_OUTPUT:
      src = (const unsigned char *)out[cp->src_index];
      break;
    default:
      src = root_base(inst, cp->src_root);
    }
    memcpy(out[cp->dst_output], src + cp->src_offset, (size_t)cp->bytes);
  }
  return KILN_OK;
}

/* Runs once the instance is held (busy) and the pointers are checked. */
static int run_held(kiln_rt_instance *inst, const void *const *in,
                    void *const *out) {
  if (check_alignment(inst, 0, in) != KILN_OK ||
      check_alignment(inst, 1, (const void *const *)out) != KILN_OK ||
      check_aliasing(inst, in, out) != KILN_OK ||
      check_indices(inst, in) != KILN_OK)
    return KILN_ERROR_INVALID_ARGUMENT;
  kiln_rt_set_current(inst);
  int status = run_steps(inst, in, out);
  kiln_rt_set_current(NULL);
  return status;
}

/* Takes the instance for one run; fails when another thread has it. */
static int hold(kiln_rt_instance *inst) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&inst->busy, &expected, 1)) {
    tls_refused = inst;
    FAIL(NULL, KILN_ERROR_BUSY,
         "the instance is running on another thread; create one instance per "
         "thread");
  }
  tls_refused = NULL;
  pthread_mutex_lock(&inst->error_mutex);
  inst->error[0] = '\0';
  pthread_mutex_unlock(&inst->error_mutex);
  return KILN_OK;
}

int kiln_rt_run(kiln_rt_instance *inst, const void *const *inputs,
                int num_inputs, void *const *outputs, int num_outputs) {
  if (!inst)
    FAIL(NULL, KILN_ERROR_INVALID_ARGUMENT, "run: the instance is NULL");
  int status = hold(inst);
  if (status != KILN_OK)
    return status;
  status = check_pointers(inst, 0, inputs, num_inputs);
  if (status == KILN_OK)
    status = check_pointers(inst, 1, (const void *const *)outputs, num_outputs);
  if (status == KILN_OK)
    status = run_held(inst, inputs, outputs);
  atomic_store(&inst->busy, 0);
  return status;
}

static void shape_string(char *buf, size_t cap, int rank,
                         const int64_t *shape) {
  size_t used = (size_t)snprintf(buf, cap, "[");
  for (int d = 0; d < rank && used < cap; ++d)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", d ? "," : "",
                             shape ? (long long)shape[d] : -1LL);
  if (used < cap)
    snprintf(buf + used, cap - used, "]");
}

/* Checks one list of tensors against the model and collects data pointers. */
static int check_tensors(kiln_rt_instance *inst, int is_output,
                         const kiln_tensor *ts, int count, void **ptrs) {
  const kiln_rt_model *m = inst->model;
  int want = is_output ? m->num_outputs : m->num_inputs;
  const char *kind = io_kind(is_output);
  if (count != want)
    FAIL(inst, KILN_ERROR_INVALID_ARGUMENT, "model '%s' has %d %ss, got %d",
         m->name, want, kind, count);
  if (want > 0 && !ts)
    FAIL(inst, KILN_ERROR_INVALID_ARGUMENT, "the %s array is NULL", kind);
  for (int i = 0; i < want; ++i) {
    const kiln_rt_io *io = kiln_rt_io_at(m, is_output, i);
    const kiln_tensor *t = &ts[i];
    if (!t->data)
      FAIL(inst, KILN_ERROR_INVALID_ARGUMENT, "%s %d ('%s') has NULL data",
           kind, i, io->name);
    if (t->dtype != io->dtype)
      FAIL(inst, KILN_ERROR_DTYPE, "%s %d ('%s'): expected dtype %s, got %s",
           kind, i, io->name, kiln_dtype_name(io->dtype),
           kiln_dtype_name(t->dtype));
    int same = t->rank == io->rank && (t->rank == 0 || t->shape);
    for (int d = 0; same && d < io->rank; ++d)
      same = t->shape[d] == io->shape[d];
    if (!same) {
      char want_s[256], got_s[256];
      shape_string(want_s, sizeof want_s, io->rank, io->shape);
      shape_string(got_s, sizeof got_s, t->rank < 0 ? 0 : t->rank, t->shape);
      FAIL(inst, KILN_ERROR_SHAPE, "%s %d ('%s'): expected shape %s, got %s",
           kind, i, io->name, want_s, got_s);
    }
    ptrs[i] = t->data;
  }
  return KILN_OK;
}

int kiln_rt_run_tensors(kiln_rt_instance *inst, const kiln_tensor *inputs,
                        int num_inputs, const kiln_tensor *outputs,
                        int num_outputs) {
  if (!inst)
    FAIL(NULL, KILN_ERROR_INVALID_ARGUMENT, "run: the instance is NULL");
  int status = hold(inst);
  if (status != KILN_OK)
    return status;
  /* The pointer lists live in the instance: no allocation per run. */
  status = check_tensors(inst, 0, inputs, num_inputs, inst->input_ptrs);
  if (status == KILN_OK)
    status = check_tensors(inst, 1, outputs, num_outputs, inst->output_ptrs);
  if (status == KILN_OK)
    status = run_held(inst, (const void *const *)inst->input_ptrs,
                      inst->output_ptrs);
  atomic_store(&inst->busy, 0);
  return status;
}

int kiln_rt_set_profiling(kiln_rt_instance *inst, int enable) {
  if (!inst)
    FAIL(NULL, KILN_ERROR_INVALID_ARGUMENT,
         "set_profiling: the instance is NULL");
  inst->profiling = enable != 0;
  if (enable)
    for (uint32_t s = 0; s < inst->model->num_steps; ++s) {
      inst->step_seconds[s] = 0;
      inst->step_calls[s] = 0;
    }
  return KILN_OK;
}

int kiln_rt_step_stats(const kiln_rt_instance *inst, int step, double *seconds,
                       int64_t *calls) {
  if (!inst)
    FAIL(NULL, KILN_ERROR_INVALID_ARGUMENT, "step_stats: the instance is NULL");
  if (step < 0 || (uint32_t)step >= inst->model->num_steps) {
    kiln_rt_error((kiln_rt_instance *)inst, 0,
                  "step %d is out of range (the model has %u steps)", step,
                  inst->model->num_steps);
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  if (seconds)
    *seconds = inst->step_seconds[step];
  if (calls)
    *calls = inst->step_calls[step];
  return KILN_OK;
}
