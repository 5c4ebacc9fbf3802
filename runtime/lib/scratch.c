/* Scratch memory for Halide kernels (halide_malloc / halide_free): a small
 * per-thread stash of freed blocks, so that after the first run the same
 * requests are served without calling the system allocator. */
#include "internal.h"

#include <stdlib.h>

#define KILN_RT_STASH 8
#define KILN_RT_SCRATCH_ALIGN 128

typedef struct {
  void *ptr[KILN_RT_STASH];
  size_t size[KILN_RT_STASH];
} stash_t;

static __thread stash_t *tls_stash;
static pthread_key_t stash_key;
static int stash_key_ok;

/* Frees a thread's stash when the thread exits. */
static void free_stash(void *p) {
  stash_t *s = (stash_t *)p;
  for (int i = 0; i < KILN_RT_STASH; ++i)
    free(s->ptr[i]);
  free(s);
}

void kiln_rt_scratch_init(void) {
  stash_key_ok = pthread_key_create(&stash_key, free_stash) == 0;
}

/* The library may be unloaded while threads live: drop the destructor. */
__attribute__((destructor)) static void scratch_fini(void) {
  if (stash_key_ok)
    pthread_key_delete(stash_key);
  stash_key_ok = 0;
}

/* Blocks carry their size in a header so that free can stash them. */
typedef struct {
  size_t size;
} header_t;
#define HEADER KILN_RT_SCRATCH_ALIGN

void *kiln_rt_scratch_malloc(void *user_context, size_t bytes) {
  (void)user_context;
  stash_t *s = tls_stash;
  if (s) {
    int best = -1;
    for (int i = 0; i < KILN_RT_STASH; ++i)
      if (s->ptr[i] && s->size[i] >= bytes && s->size[i] / 2 <= bytes &&
          (best < 0 || s->size[i] < s->size[best]))
        best = i;
    if (best >= 0) {
      void *p = s->ptr[best];
      s->ptr[best] = NULL;
      return (char *)p + HEADER;
    }
  }
  void *p = NULL;
  if (posix_memalign(&p, KILN_RT_SCRATCH_ALIGN, bytes + HEADER) != 0)
    return NULL;
  ((header_t *)p)->size = bytes;
  return (char *)p + HEADER;
}

void kiln_rt_scratch_free(void *user_context, void *ptr) {
  (void)user_context;
  if (!ptr)
    return;
  void *block = (char *)ptr - HEADER;
  stash_t *s = tls_stash;
  if (!s && stash_key_ok && (s = (stash_t *)calloc(1, sizeof *s))) {
    tls_stash = s;
    pthread_setspecific(stash_key, s);
  }
  if (s) {
    /* Keep it in an empty slot, or in place of a smaller block. */
    int slot = -1;
    for (int i = 0; i < KILN_RT_STASH; ++i)
      if (!s->ptr[i]) {
        slot = i;
        break;
      }
    if (slot < 0)
      for (int i = 0; i < KILN_RT_STASH; ++i)
        if (s->size[i] < ((header_t *)block)->size &&
            (slot < 0 || s->size[i] < s->size[slot]))
          slot = i;
    if (slot >= 0) {
      free(s->ptr[slot]);
      s->ptr[slot] = block;
      s->size[slot] = ((header_t *)block)->size;
      return;
    }
  }
  free(block);
}
