/* Types shared by every kiln-generated model header (N.h): element types,
 * status codes and a tensor descriptor. Pasted verbatim into each N.h. */
#ifndef KILN_MODEL_TYPES_H
#define KILN_MODEL_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Element types. Bool tensors hold one byte (0 or 1) per element; f16 and
 * bf16 hold 16-bit patterns. */
typedef enum kiln_dtype {
  KILN_F32 = 0,
  KILN_F64 = 1,
  KILN_F16 = 2,
  KILN_BF16 = 3,
  KILN_I64 = 4,
  KILN_I32 = 5,
  KILN_I8 = 6,
  KILN_U8 = 7,
  KILN_BOOL = 8
} kiln_dtype;

/* What every function returning int reports; the instance's last error
 * message (N_last_error) says more. */
typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERROR_INVALID_ARGUMENT = 1, /* wrong count, null pointer, bad index */
  KILN_ERROR_DTYPE = 2,            /* an input or output has the wrong dtype */
  KILN_ERROR_SHAPE = 3,            /* an input or output has the wrong shape */
  KILN_ERROR_OUT_OF_MEMORY = 4,
  KILN_ERROR_IO = 5,         /* the weights file is missing or does not match */
  KILN_ERROR_KERNEL = 6,     /* a kernel failed (message from Halide) */
  KILN_ERROR_BUSY = 7,       /* the instance is running on another thread */
  KILN_ERROR_UNSUPPORTED = 8 /* no kernel variant runs on this CPU */
} kiln_status;

/* A dense row-major tensor the caller owns. */
typedef struct kiln_tensor {
  void *data;
  kiln_dtype dtype;
  int32_t rank;
  const int64_t *shape; /* rank entries (may be NULL when rank is 0) */
} kiln_tensor;

/* Bytes per element of `t` (0 for an unknown value). */
static inline size_t kiln_dtype_size(kiln_dtype t) {
  switch (t) {
  case KILN_F32: case KILN_I32: return 4;
  case KILN_F64: case KILN_I64: return 8;
  case KILN_F16: case KILN_BF16: return 2;
  case KILN_I8: case KILN_U8: case KILN_BOOL: return 1;
  }
  return 0;
}

/* "f32", "i64", "bool", ... ("?" for an unknown value). */
static inline const char *kiln_dtype_name(kiln_dtype t) {
  switch (t) {
  case KILN_F32: return "f32";
  case KILN_F64: return "f64";
  case KILN_F16: return "f16";
  case KILN_BF16: return "bf16";
  case KILN_I64: return "i64";
  case KILN_I32: return "i32";
  case KILN_I8: return "i8";
  case KILN_U8: return "u8";
  case KILN_BOOL: return "bool";
  }
  return "?";
}

#endif /* KILN_MODEL_TYPES_H */
