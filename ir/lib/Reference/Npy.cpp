// Reading and writing NumPy .npy files (format 1.0-3.0) for kiln::ref::Tensor.
// Every length and field is checked: bad files raise Error, never crash.
#include "kiln/Reference/Npy.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

using namespace kiln::ref;

namespace {

/// A tiny cursor over the header's Python dict literal, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
public:
  HeaderParser(const std::string &text, const std::string &what)
      : s(text), what(what) {}

  [[noreturn]] void fail(const std::string &msg) const {
    throw Error(what + ": malformed .npy header (" + msg + ")");
  }
  void skipSpace() {
    while (pos < s.size() && std::isspace((unsigned char)s[pos]))
      ++pos;
  }
  bool peek(char c) {
    skipSpace();
    return pos < s.size() && s[pos] == c;
  }
  void expect(char c) {
    if (!peek(c))
      fail(std::string("expected '") + c + "'");
    ++pos;
  }
  std::string parseString() {
    skipSpace();
    if (pos >= s.size() || (s[pos] != '\'' && s[pos] != '"'))
      fail("expected a string");
    char quote = s[pos++];
    size_t end = s.find(quote, pos);
    if (end == std::string::npos)
      fail("unterminated string");
    std::string out = s.substr(pos, end - pos);
    pos = end + 1;
    return out;
  }
  bool parseBool() {
    skipSpace();
    if (s.compare(pos, 4, "True") == 0) {
      pos += 4;
      return true;
    }
    if (s.compare(pos, 5, "False") == 0) {
      pos += 5;
      return false;
    }
    fail("expected True or False");
  }
  int64_t parseInt() {
    skipSpace();
    size_t start = pos;
    int64_t v = 0;
    while (pos < s.size() && std::isdigit((unsigned char)s[pos])) {
      if (v > (int64_t(1) << 50))
        fail("dimension too large");
      v = v * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start)
      fail("expected a non-negative integer");
    if (pos < s.size() && (s[pos] == 'L' || s[pos] == 'l')) // Python 2 longs
      ++pos;
    return v;
  }
  Shape parseShape() {
    expect('(');
    Shape shape;
    while (!peek(')')) {
      shape.push_back(parseInt());
      if (peek(','))
        ++pos;
      else if (!peek(')'))
        fail("expected ',' or ')' in shape");
    }
    ++pos;
    return shape;
  }
  void parse(std::string &descr, bool &fortran, Shape &shape) {
    bool haveDescr = false, haveOrder = false, haveShape = false;
    expect('{');
    while (!peek('}')) {
      std::string key = parseString();
      expect(':');
      if (key == "descr") {
        descr = parseString();
        haveDescr = true;
      } else if (key == "fortran_order") {
        fortran = parseBool();
        haveOrder = true;
      } else if (key == "shape") {
        shape = parseShape();
        haveShape = true;
      } else {
        fail("unknown key '" + key + "'");
      }
      if (peek(','))
        ++pos;
      else if (!peek('}'))
        fail("expected ',' or '}'");
    }
    ++pos;
    if (!haveDescr || !haveOrder || !haveShape)
      fail("needs descr, fortran_order and shape");
  }

private:
  const std::string &s;
  const std::string &what;
  size_t pos = 0;
};

/// Maps a numpy type string to a DType; sets `swap` for big-endian data.
DType dtypeFromDescr(const std::string &descr, bool &swap,
                     const std::string &what) {
  auto bad = [&]() -> Error {
    return Error(what + ": unsupported .npy dtype '" + descr +
                 "' (kiln reads f2, f4, f8, i1, i4, i8, u1, b1)");
  };
  if (descr.size() < 3)
    throw bad();
  char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=')
    throw bad();
  swap = order == '>';
  std::string code = descr.substr(1);
  if (code == "f4")
    return DType::F32;
  if (code == "f8")
    return DType::F64;
  if (code == "f2")
    return DType::F16;
  if (code == "i8")
    return DType::I64;
  if (code == "i4")
    return DType::I32;
  if (code == "i1")
    return DType::I8;
  if (code == "u1")
    return DType::U8;
  if (code == "b1")
    return DType::Bool;
  throw bad();
}

const char *descrFor(DType t) {
  switch (t) {
  case DType::F32:
    return "<f4";
  case DType::F64:
    return "<f8";
  case DType::F16:
    return "<f2";
  case DType::I64:
    return "<i8";
  case DType::I32:
    return "<i4";
  case DType::I8:
    return "|i1";
  case DType::U8:
    return "|u1";
  case DType::Bool:
    return "|b1";
  case DType::BF16:
    return nullptr;
  }
  return nullptr;
}

uint32_t readLE(const std::string &b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | (unsigned char)b[at + i];
  return v;
}

} // namespace

Tensor kiln::ref::parseNpy(const std::string &bytes, const std::string &what) {
  static const char magic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, magic, 6) != 0)
    throw Error(what + ": not a .npy file (bad magic)");
  int major = (unsigned char)bytes[6];
  if (major < 1 || major > 3)
    throw Error(what + ": unsupported .npy format version " +
                std::to_string(major) + "." +
                std::to_string((unsigned char)bytes[7]));
  size_t lenBytes = major == 1 ? 2 : 4;
  size_t headerStart = 8 + lenBytes;
  if (bytes.size() < headerStart)
    throw Error(what + ": truncated .npy header");
  size_t headerLen = readLE(bytes, 8, (int)lenBytes);
  if (headerLen > bytes.size() - headerStart)
    throw Error(what + ": truncated .npy header (needs " +
                std::to_string(headerLen) + " bytes)");
  std::string header = bytes.substr(headerStart, headerLen);

  std::string descr;
  bool fortran = false;
  Shape shape;
  HeaderParser(header, what).parse(descr, fortran, shape);
  bool swap = false;
  DType dtype = dtypeFromDescr(descr, swap, what);

  size_t dataStart = headerStart + headerLen;
  size_t available = bytes.size() - dataStart;
  size_t elemSize = dtypeSize(dtype);
  // Check the element count against the bytes present before allocating.
  uint64_t maxCount = available / elemSize, count = 1;
  bool empty = std::count(shape.begin(), shape.end(), 0) > 0;
  for (int64_t d : shape) {
    if (empty)
      count = 0;
    else if ((uint64_t)d > maxCount / count)
      throw Error(what + ": .npy data is truncated (shape " + shapeStr(shape) +
                  " of " + dtypeName(dtype) + " needs more than the " +
                  std::to_string(available) + " bytes present)");
    else
      count *= (uint64_t)d;
  }
  if (count * elemSize != available)
    throw Error(what + ": .npy data has " + std::to_string(available) +
                " bytes but shape " + shapeStr(shape) + " of " +
                dtypeName(dtype) + " needs " +
                std::to_string(count * elemSize));

  Shape stored = shape;
  if (fortran)
    std::reverse(stored.begin(), stored.end());
  Tensor t(dtype, stored);
  if (available)
    std::memcpy(t.raw(), bytes.data() + dataStart, available);
  if (swap && elemSize > 1) {
    auto *p = static_cast<unsigned char *>(t.raw());
    for (size_t i = 0; i < available; i += elemSize)
      std::reverse(p + i, p + i + elemSize);
  }
  if (dtype == DType::Bool) {
    auto *p = t.data<uint8_t>();
    for (uint64_t i = 0; i < count; ++i)
      p[i] = p[i] != 0;
  }
  if (!fortran || t.rank() < 2)
    return t;

  // Fortran order: the bytes are the transpose in C order; undo it.
  Tensor out(dtype, shape);
  Shape inStrides = strides(stored);
  int64_t rank = t.rank();
  std::vector<int64_t> idx(rank, 0);
  auto *src = static_cast<const unsigned char *>(t.raw());
  auto *dst = static_cast<unsigned char *>(out.raw());
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < rank; ++d)
      off += idx[d] * inStrides[rank - 1 - d];
    std::memcpy(dst + i * elemSize, src + off * elemSize, elemSize);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < shape[d])
        break;
      idx[d] = 0;
    }
  }
  return out;
}

Tensor kiln::ref::readNpy(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    throw Error(path + ": read error");
  return parseNpy(buf.str(), path);
}

void kiln::ref::writeNpy(const std::string &path, const Tensor &t) {
  const char *descr = descrFor(t.dtype());
  if (!descr)
    throw Error(path + ": cannot write " + dtypeName(t.dtype()) +
                " to .npy (numpy has no such dtype)");
  std::string dict = std::string("{'descr': '") + descr +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.shape().size(); ++i) {
    dict += std::to_string(t.shape()[i]);
    dict +=
        t.shape().size() == 1 ? "," : (i + 1 < t.shape().size() ? ", " : "");
  }
  dict += "), }";
  // Pad with spaces and a final newline so the data starts 64-byte aligned.
  size_t lenBytes = 2;
  size_t total = 8 + lenBytes + dict.size() + 1;
  if ((total + 63) / 64 * 64 - 10 > 65535) {
    lenBytes = 4;
    total = 8 + lenBytes + dict.size() + 1;
  }
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';

  std::string out("\x93NUMPY", 6);
  out += (char)(lenBytes == 2 ? 1 : 2);
  out += (char)0;
  uint32_t hlen = (uint32_t)dict.size();
  for (size_t i = 0; i < lenBytes; ++i)
    out += (char)((hlen >> (8 * i)) & 0xff);
  out += dict;
  out.append(static_cast<const char *>(t.raw()), t.bytes());

  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f)
    throw Error(path + ": cannot open for writing");
  f.write(out.data(), (std::streamsize)out.size());
  f.close();
  if (!f)
    throw Error(path + ": write failed");
}
