/* Private declarations shared by the runtime's C files: the instance, the
 * thread pool, and the error helpers. */
#ifndef KILN_RUNTIME_INTERNAL_H
#define KILN_RUNTIME_INTERNAL_H

#include "kiln/kiln_runtime.h"

#include <HalideRuntime.h>
#include <pthread.h>
#include <stdatomic.h>

#define KILN_RT_ERROR_CAPACITY 1024

/* Workers plus the calling thread share the items of one parallel loop. */
typedef struct kiln_rt_pool {
  int num_workers; /* threads - 1 */
  pthread_t *workers;
  struct kiln_rt_instance *owner;
  /* The current job, published by bumping `generation`. `ticket` holds the
   * job's generation (high 32 bits) and the next unclaimed item. */
  _Atomic uint32_t generation;
  _Atomic uint64_t ticket;
  _Atomic int size;
  _Atomic int completed;
  _Atomic int error;
  kiln_rt_task_fn task;
  void *user_context;
  int min;
  uint8_t *closure;
  /* Sleeping workers wait on `wake`. */
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  _Atomic int sleepers;
  _Atomic int stop;
} kiln_rt_pool;

struct kiln_rt_instance {
  const kiln_rt_model *model;
  const kiln_rt_variant *variant; /* the kernels this CPU runs, or NULL */
  unsigned char *arena;
  const unsigned char *weights;
  void *map_base; /* mmapped weights file, or NULL */
  size_t map_bytes;
  halide_buffer_t *buffers;
  halide_dimension_t *dims;
  void **argv;
  int num_threads;
  kiln_rt_pool pool;
  _Atomic int busy;
  pthread_mutex_t error_mutex;
  char error[KILN_RT_ERROR_CAPACITY];
  int profiling;
  double *step_seconds;
  int64_t *step_calls;
  void **input_ptrs, **output_ptrs; /* scratch of run_tensors */
};

/* Starts `threads - 1` workers for `inst`. Returns 0 or an errno value. */
KILN_RT_HIDDEN int kiln_rt_pool_start(kiln_rt_pool *pool,
                                      struct kiln_rt_instance *inst,
                                      int threads);
KILN_RT_HIDDEN void kiln_rt_pool_stop(kiln_rt_pool *pool);
/* Makes `inst` the instance whose pool and error buffer serve parallel loops
 * and Halide errors on this thread (NULL to clear). */
KILN_RT_HIDDEN void kiln_rt_set_current(struct kiln_rt_instance *inst);
/* Routes Halide's parallel loops and errors to the runtime (once). */
KILN_RT_HIDDEN void kiln_rt_install_halide_hooks(void);

/* Halide scratch memory (scratch.c): a per-thread stash of freed blocks. */
KILN_RT_HIDDEN void kiln_rt_scratch_init(void);
KILN_RT_HIDDEN void *kiln_rt_scratch_malloc(void *user_context, size_t bytes);
KILN_RT_HIDDEN void kiln_rt_scratch_free(void *user_context, void *ptr);

/* Sets (or, with append, extends) the instance's error message, printf-style.
 */
KILN_RT_HIDDEN void kiln_rt_error(struct kiln_rt_instance *inst, int append,
                                  const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* KILN_RUNTIME_INTERNAL_H */
