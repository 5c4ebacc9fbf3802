/* The per-instance thread pool behind Halide's parallel loops, and the hooks
 * that route the library's own Halide runtime copy to it. */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

/* The Halide runtime object is linked into every generated library, but the
 * runtime also links without it (tests with hand-written kernels). */
#pragma weak halide_set_custom_do_par_for
#pragma weak halide_set_error_handler
#pragma weak halide_set_custom_malloc
#pragma weak halide_set_custom_free

/* Pause iterations a worker spins on before sleeping, so that the next loop
 * of the same run starts without a wake-up. About a millisecond. */
#define KILN_RT_SPIN 20000

static __thread struct kiln_rt_instance *tls_current;
static __thread int tls_in_task;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

void kiln_rt_set_current(struct kiln_rt_instance *inst) { tls_current = inst; }

/* Claims and runs items of job `gen` until none is left. */
static void work(kiln_rt_pool *p, uint32_t gen) {
  for (;;) {
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    if ((uint32_t)(t >> 32) != gen)
      return;
    int item = (int)(uint32_t)t;
    if (item >= atomic_load_explicit(&p->size, memory_order_relaxed))
      return;
    if (!atomic_compare_exchange_weak_explicit(
            &p->ticket, &t, t + 1, memory_order_acq_rel, memory_order_relaxed))
      continue;
    /* The job cannot change while a claimed item is not completed. */
    int rc = p->task(p->user_context, p->min + item, p->closure);
    if (rc != 0) {
      int zero = 0;
      atomic_compare_exchange_strong(&p->error, &zero, rc);
    }
    atomic_fetch_add_explicit(&p->completed, 1, memory_order_release);
  }
}

static void *worker_main(void *arg) {
  kiln_rt_pool *p = (kiln_rt_pool *)arg;
  tls_current = p->owner;
  tls_in_task = 1;   /* loops nested in a task run serially */
  uint32_t seen = 0; /* the generation when the pool started */
  for (;;) {
    uint32_t gen;
    int spins = 0;
    while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) ==
               seen &&
           !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
      if (++spins < KILN_RT_SPIN) {
        cpu_relax();
        continue;
      }
      pthread_mutex_lock(&p->mutex);
      atomic_fetch_add(&p->sleepers, 1);
      while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mutex);
      atomic_fetch_sub(&p->sleepers, 1);
      pthread_mutex_unlock(&p->mutex);
      spins = 0;
    }
    if (atomic_load(&p->stop))
      return NULL;
    seen = gen;
    work(p, gen);
  }
}

int kiln_rt_pool_start(kiln_rt_pool *p, struct kiln_rt_instance *inst,
                       int threads) {
  p->owner = inst;
  p->num_workers = 0;
  p->workers = NULL;
  atomic_init(&p->generation, 0);
  atomic_init(&p->ticket, 0);
  atomic_init(&p->size, 0);
  atomic_init(&p->completed, 0);
  atomic_init(&p->error, 0);
  atomic_init(&p->sleepers, 0);
  atomic_init(&p->stop, 0);
  pthread_mutex_init(&p->mutex, NULL);
  pthread_cond_init(&p->wake, NULL);
  if (threads <= 1)
    return 0;
  p->workers = (pthread_t *)calloc((size_t)threads - 1, sizeof(pthread_t));
  if (!p->workers)
    return ENOMEM;
  for (int i = 0; i < threads - 1; ++i) {
    int rc = pthread_create(&p->workers[i], NULL, worker_main, p);
    if (rc != 0) {
      kiln_rt_pool_stop(p);
      return rc;
    }
    p->num_workers = i + 1;
  }
  return 0;
}

void kiln_rt_pool_stop(kiln_rt_pool *p) {
  if (p->num_workers > 0) {
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 0; i < p->num_workers; ++i)
      pthread_join(p->workers[i], NULL);
  }
  free(p->workers);
  p->workers = NULL;
  p->num_workers = 0;
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->mutex);
}

int kiln_rt_par_for(void *user_context, kiln_rt_task_fn task, int min, int size,
                    uint8_t *closure) {
  struct kiln_rt_instance *inst = tls_current;
  kiln_rt_pool *p = inst ? &inst->pool : NULL;
  if (!p || p->num_workers == 0 || tls_in_task || size <= 1) {
    for (int i = 0; i < size; ++i) {
      int rc = task(user_context, min + i, closure);
      if (rc != 0)
        return rc;
    }
    return 0;
  }
  p->task = task;
  p->user_context = user_context;
  p->min = min;
  p->closure = closure;
  atomic_store_explicit(&p->size, size, memory_order_relaxed);
  atomic_store_explicit(&p->completed, 0, memory_order_relaxed);
  atomic_store_explicit(&p->error, 0, memory_order_relaxed);
  uint32_t gen = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
  atomic_store_explicit(&p->ticket, (uint64_t)gen << 32, memory_order_release);
  atomic_store(&p->generation, gen); /* seq_cst: pairs with `sleepers` */
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mutex);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
  }
  tls_in_task = 1;
  work(p, gen);
  tls_in_task = 0;
  int spins = 0;
  while (atomic_load_explicit(&p->completed, memory_order_acquire) < size) {
    if (++spins < KILN_RT_SPIN)
      cpu_relax();
    else
      sched_yield();
  }
  return atomic_load(&p->error);
}

static int halide_par_for_hook(void *user_context, halide_task_t task, int min,
                               int size, uint8_t *closure) {
  return kiln_rt_par_for(user_context, (kiln_rt_task_fn)task, min, size,
                         closure);
}

static void halide_error_hook(void *user_context, const char *msg) {
  (void)user_context;
  if (tls_current)
    kiln_rt_error(tls_current, 1, "%s", msg);
  else
    fprintf(stderr, "kiln: Halide error: %s\n", msg);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void) {
  if (halide_set_custom_do_par_for)
    halide_set_custom_do_par_for(halide_par_for_hook);
  if (halide_set_error_handler)
    halide_set_error_handler(halide_error_hook);
  kiln_rt_scratch_init();
  if (halide_set_custom_malloc && halide_set_custom_free) {
    halide_set_custom_malloc(kiln_rt_scratch_malloc);
    halide_set_custom_free(kiln_rt_scratch_free);
  }
}

void kiln_rt_install_halide_hooks(void) {
  pthread_once(&hooks_once, install_hooks);
}
