// Reading and writing NumPy .npy files (f32, f64, f16, i64, i32, i8, u8, bool).
#ifndef KILN_REFERENCE_NPY_H
#define KILN_REFERENCE_NPY_H

#include "kiln/Reference/Tensor.h"
#include <string>

namespace kiln::ref {

/// Reads a .npy file (format 1.0-3.0, little-endian, C order). Throws Error
/// with a message naming the file on anything malformed or unsupported.
Tensor readNpy(const std::string &path);
/// Parses .npy bytes already in memory; `what` names the source in errors.
Tensor parseNpy(const std::string &bytes, const std::string &what);
/// Writes a .npy file; throws Error naming the path when it cannot be written.
void writeNpy(const std::string &path, const Tensor &t);

} // namespace kiln::ref

#endif // KILN_REFERENCE_NPY_H
