/* The kiln runtime's interface to generated model code (N.c): the tables that
 * describe a compiled model and the generic functions that create and run it.
 */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include "kiln/kiln_model_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_RT_HIDDEN __attribute__((visibility("hidden")))
#define KILN_RT_EXPORT __attribute__((visibility("default")))

/* Alignment of the arena, of every buffer in it and of every weight blob. */
#define KILN_RT_ALIGN 64
/* The external weights file: a 64-byte header, then the blob. */
#define KILN_RT_WEIGHTS_MAGIC "KILNWTS1"
#define KILN_RT_WEIGHTS_HEADER 64

/* A compiled kernel, called through Halide's argv entry point: one
 * halide_buffer_t pointer per argument. Returns 0 or a Halide error code. */
typedef int (*kiln_rt_kernel_fn)(void **args);

/* Where a buffer's bytes live. */
enum kiln_rt_root {
  KILN_RT_ARENA = 0,   /* offset into the instance's arena */
  KILN_RT_WEIGHTS = 1, /* offset into the weights blob (read-only) */
  KILN_RT_INPUT = 2,   /* offset into caller input `index` */
  KILN_RT_OUTPUT = 3   /* offset into caller output `index` */
};

/* One dimension of a kernel buffer, Halide order (innermost first). */
typedef struct kiln_rt_dim {
  int32_t extent;
  int32_t stride; /* in elements */
} kiln_rt_dim;

/* One halide_buffer_t a kernel reads or writes. */
typedef struct kiln_rt_buffer {
  uint8_t root;      /* enum kiln_rt_root */
  uint8_t type_code; /* halide_type_code_t: 0 int, 1 uint, 2 float, 4 bfloat */
  uint8_t type_bits;
  uint8_t rank;
  uint32_t index;     /* input/output index for those roots */
  uint64_t offset;    /* bytes from the root's start */
  uint32_t first_dim; /* into kiln_rt_model.dims */
} kiln_rt_buffer;

/* One kernel call: args[first_arg .. first_arg+num_args) are buffer ids. */
typedef struct kiln_rt_step {
  kiln_rt_kernel_fn fn;
  uint32_t first_arg;
  uint32_t num_args;
  const char *name; /* "node name (kiln.op)" for errors and profiles */
} kiln_rt_step;

/* A copy into an output after the last step (an output that is an input, a
 * weight, or a value already returned as another output). */
typedef struct kiln_rt_copy {
  uint8_t src_root;
  uint32_t src_index;
  uint64_t src_offset;
  uint32_t dst_output;
  uint64_t bytes;
} kiln_rt_copy;

/* A model input or output as the API reports it. */
typedef struct kiln_rt_io {
  const char *name;
  kiln_dtype dtype;
  int32_t rank;
  const int64_t *shape;
  const char *const *dim_names; /* rank entries, "" for a static dim */
  uint64_t bytes;
} kiln_rt_io;

/* A caller input that holds indices (of a gather, gather_elements or
 * scatter_elements, directly or through reshapes and integer casts): every
 * element must lie in [-size, size), checked before the kernels run. */
typedef struct kiln_rt_index_check {
  uint32_t input;   /* caller input index (an i64 or i32 input) */
  int64_t size;     /* the size of the axis the indices select along */
  const char *node; /* "node name (kiln.op)" that uses them, for errors */
} kiln_rt_index_check;

/* Instruction-set levels a kernel variant may need (cumulative bits; the
 * named targets of `kiln compile --target`). */
#define KILN_ISA_SSE41 1u       /* x86-64: SSE4.1 */
#define KILN_ISA_AVX2 2u        /* x86-64-avx2: AVX, AVX2, FMA, F16C */
#define KILN_ISA_AVX512 4u      /* x86-64-avx512: AVX-512 F, CD, BW, DQ, VL */
#define KILN_ISA_AVX512_BF16 8u /* x86-64-avx512-bf16: + AVX512-BF16, VNNI */

/* One compiled form of every kernel, for one target: fns[s] runs step s. */
typedef struct kiln_rt_variant {
  const char *target; /* "x86-64-avx2" */
  uint32_t isa;       /* KILN_ISA_* bits the CPU must have */
  const kiln_rt_kernel_fn *fns;
} kiln_rt_variant;

typedef struct kiln_rt_model {
  const char *name;
  int32_t num_inputs, num_outputs;
  const kiln_rt_io *inputs, *outputs;
  uint64_t arena_bytes;
  uint32_t num_buffers, num_dims, num_args, num_steps, num_copies;
  const kiln_rt_buffer *buffers;
  const kiln_rt_dim *dims;
  const uint32_t *args;
  const kiln_rt_step *steps;
  const kiln_rt_copy *copies;
  /* Weights: embedded (non-NULL `weights`) or in the file `weights_file`
   * beside the library, whose header must carry `weights_id`. */
  const unsigned char *weights;
  uint64_t weights_bytes;
  uint64_t weights_id;
  const char *weights_file;
  const void *anchor;      /* an address inside the library (for dladdr) */
  int32_t default_threads; /* 0: the machine's cores */
  uint32_t num_index_checks;
  const kiln_rt_index_check *index_checks;
  /* Kernel variants, best first: create picks the first whose ISA bits the
   * CPU has (capped by $KILN_MAX_CPU_ISA). None: steps[].fn, no check. */
  uint32_t num_variants;
  const kiln_rt_variant *variants;
} kiln_rt_model;

typedef struct kiln_rt_instance kiln_rt_instance;

KILN_RT_HIDDEN int kiln_rt_create(const kiln_rt_model *model,
                                  kiln_rt_instance **out, int num_threads,
                                  const char *weights_path);
KILN_RT_HIDDEN void kiln_rt_destroy(kiln_rt_instance *inst);
/* The instance's last error; with NULL, the calling thread's last failure of
 * kiln_rt_create (or of a call given a NULL instance). */
KILN_RT_HIDDEN const char *kiln_rt_last_error(const kiln_rt_instance *inst);
KILN_RT_HIDDEN int kiln_rt_num_threads(const kiln_rt_instance *inst);
/* The target of the kernel variant the instance runs ("" without variants). */
KILN_RT_HIDDEN const char *kiln_rt_target(const kiln_rt_instance *inst);

/* The KILN_ISA_* bits this CPU (and its OS: XSAVE state) supports. */
KILN_RT_HIDDEN uint32_t kiln_rt_cpu_isa(void);
/* kiln_rt_cpu_isa() capped by $KILN_MAX_CPU_ISA (x86-64, avx2, avx512,
 * avx512-bf16; the "x86-64-" prefix is optional). Returns 0 and sets *error
 * to a static message when the variable holds something else. */
KILN_RT_HIDDEN uint32_t kiln_rt_usable_isa(const char **error);
KILN_RT_HIDDEN int kiln_rt_run(kiln_rt_instance *inst,
                               const void *const *inputs, int num_inputs,
                               void *const *outputs, int num_outputs);
KILN_RT_HIDDEN int kiln_rt_run_tensors(kiln_rt_instance *inst,
                                       const kiln_tensor *inputs,
                                       int num_inputs,
                                       const kiln_tensor *outputs,
                                       int num_outputs);

/* The data pointer of a kernel argument (a halide_buffer_t), for kernels
 * that take bare pointers. */
KILN_RT_HIDDEN void *kiln_rt_buffer_host(void *buffer);

/* Queries on the model tables; `is_output` picks the list. NULL / -1 when
 * `i` is out of range. */
KILN_RT_HIDDEN const kiln_rt_io *kiln_rt_io_at(const kiln_rt_model *model,
                                               int is_output, int i);
KILN_RT_HIDDEN int kiln_rt_io_index(const kiln_rt_model *model, int is_output,
                                    const char *name);
KILN_RT_HIDDEN const char *kiln_rt_dim_name(const kiln_rt_model *model,
                                            int is_output, int i, int d);

/* Per-step timing (off by default). */
KILN_RT_HIDDEN int kiln_rt_set_profiling(kiln_rt_instance *inst, int enable);
KILN_RT_HIDDEN int kiln_rt_step_stats(const kiln_rt_instance *inst, int step,
                                      double *seconds, int64_t *calls);

/* The thread pool, usable directly (tests) and behind Halide's
 * halide_do_par_for: runs task(user_context, i, closure) for i in
 * [min, min+size) on the pool of the instance running on this thread (or
 * serially). Returns the first non-zero task result. */
typedef int (*kiln_rt_task_fn)(void *user_context, int index, uint8_t *closure);
KILN_RT_HIDDEN int kiln_rt_par_for(void *user_context, kiln_rt_task_fn task,
                                   int min, int size, uint8_t *closure);

#ifdef __cplusplus
}
#endif

#endif /* KILN_RUNTIME_H */
