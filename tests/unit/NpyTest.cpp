// Tests of .npy reading and writing: round trips for every dtype, numpy's exact
// byte layout, other header versions, and malformed files raising Error.
#include "kiln/Reference/Npy.h"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace kiln::ref;

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/kiln_npy_" + std::to_string(getpid()) + "_" +
         name + ".npy";
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A .npy file with the given version, header dict and payload.
std::string makeNpy(int major, const std::string &dict,
                    const std::string &payload) {
  std::string h = dict + "\n";
  std::string out("\x93NUMPY", 6);
  out += (char)major;
  out += (char)0;
  size_t n = h.size();
  int lenBytes = major == 1 ? 2 : 4;
  for (int i = 0; i < lenBytes; ++i)
    out += (char)((n >> (8 * i)) & 0xff);
  return out + h + payload;
}

Tensor filled(DType t, Shape s) {
  Tensor x(t, std::move(s));
  auto *p = static_cast<unsigned char *>(x.raw());
  for (size_t i = 0; i < x.bytes(); ++i)
    p[i] = (unsigned char)(i * 37 + 11);
  if (t == DType::Bool)
    for (int64_t i = 0; i < x.numel(); ++i)
      p[i] &= 1;
  if (t == DType::F16) // keep values finite so NaN payloads do not matter
    for (int64_t i = 0; i < x.numel(); ++i)
      x.data<uint16_t>()[i] &= 0x3fff;
  return x;
}

} // namespace

TEST(Npy, RoundTripEveryDType) {
  DType types[] = {DType::F32, DType::F64, DType::F16, DType::I64,
                   DType::I32, DType::I8,  DType::U8,  DType::Bool};
  Shape shapes[] = {{2, 3}, {}, {0, 4}, {5}, {1, 2, 3, 4}};
  for (DType t : types)
    for (const Shape &s : shapes) {
      Tensor x = filled(t, s);
      std::string path = tempPath(dtypeName(t));
      writeNpy(path, x);
      Tensor y = readNpy(path);
      EXPECT_EQ(y.dtype(), t) << dtypeName(t);
      EXPECT_EQ(y.shape(), s) << dtypeName(t) << " " << shapeStr(s);
      ASSERT_EQ(y.bytes(), x.bytes());
      if (x.bytes())
        EXPECT_EQ(std::memcmp(x.raw(), y.raw(), x.bytes()), 0) << dtypeName(t);
      // Header plus padding keeps the data 64-byte aligned, like numpy.
      EXPECT_EQ((readBytes(path).size() - x.bytes()) % 64, 0u);
      std::remove(path.c_str());
    }
}

TEST(Npy, WritesNumpysExactBytes) {
  // np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3)) with numpy 1.24.
  Tensor x =
      Tensor::of(DType::F32, {2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  std::string path = tempPath("exact");
  writeNpy(path, x);
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  dict.append(117 - dict.size(), ' ');
  std::string want = makeNpy(1, dict, std::string((const char *)x.raw(), 24));
  EXPECT_EQ(readBytes(path), want);
  std::remove(path.c_str());
  Tensor v = Tensor::of(DType::I64, {1}, std::vector<int64_t>{7});
  writeNpy(path, v);
  EXPECT_NE(readBytes(path).find("'shape': (1,)"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Npy, ReadsOtherVersionsAndLayouts) {
  float vals[] = {1, 2, 3, 4, 5, 6};
  std::string payload((const char *)vals, sizeof(vals));
  for (int major : {1, 2, 3}) {
    Tensor t = parseNpy(makeNpy(major,
                                "{'shape': (3, 2), 'fortran_order': False, "
                                "'descr': '<f4'}",
                                payload),
                        "mem");
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_EQ(t.data<float>()[5], 6.0f);
  }
  // Fortran order: the payload is column-major.
  Tensor f = parseNpy(makeNpy(1,
                              "{'descr': '<f4', 'fortran_order': True, "
                              "'shape': (2, 3), }",
                              payload),
                      "mem");
  ASSERT_EQ(f.shape(), (Shape{2, 3}));
  float want[] = {1, 3, 5, 2, 4, 6};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(f.data<float>()[i], want[i]);
  // Big-endian int32 and Python-2 style long dims.
  std::string be("\x00\x00\x01\x02\xff\xff\xff\xfe", 8);
  Tensor b = parseNpy(makeNpy(1,
                              "{'descr': '>i4', 'fortran_order': False, "
                              "'shape': (2L,), }",
                              be),
                      "mem");
  EXPECT_EQ(b.dtype(), DType::I32);
  EXPECT_EQ(b.data<int32_t>()[0], 258);
  EXPECT_EQ(b.data<int32_t>()[1], -2);
  // Bool bytes other than 0/1 normalize to 1.
  Tensor bl = parseNpy(makeNpy(1,
                               "{'descr': '|b1', 'fortran_order': False, "
                               "'shape': (2,), }",
                               std::string("\x00\x05", 2)),
                       "mem");
  EXPECT_EQ(bl.data<uint8_t>()[1], 1);
}

TEST(Npy, MalformedFilesThrow) {
  std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  std::string eight(8, '\0');
  auto bad = [](const std::string &bytes) {
    EXPECT_THROW(parseNpy(bytes, "bad"), Error) << bytes.size();
  };
  bad("");
  bad("\x93NUMPY");
  bad("not a numpy file at all");
  bad(makeNpy(4, ok, eight));              // unknown version
  bad(makeNpy(1, ok, eight.substr(0, 7))); // truncated data
  bad(makeNpy(1, ok, eight + "x"));        // trailing bytes
  bad(makeNpy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
              eight)); // complex
  bad(makeNpy(1, "{'descr': '<U3', 'fortran_order': False, 'shape': (), }",
              std::string(12, 'a')));                          // unicode
  bad(makeNpy(1, "{'descr': '<f4', 'shape': (2,), }", eight)); // missing key
  bad(makeNpy(1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
              eight));
  bad(makeNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
              eight));
  bad(makeNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,, }",
              eight));
  bad(makeNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
              eight));
  bad(makeNpy(1, "{'descr: '<f4', 'fortran_order': False, 'shape': (2,), }",
              eight));
  bad(makeNpy(1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': "
              "(1000000000000, 1000000000000, 1000000000000), }",
              eight)); // would overflow
  // Header length pointing past the end of the file.
  std::string longHeader = makeNpy(1, ok, eight);
  longHeader[8] = (char)0xff;
  longHeader[9] = (char)0xff;
  bad(longHeader);
  // Every truncation of a valid file is rejected cleanly.
  std::string valid = makeNpy(1, ok, eight);
  EXPECT_NO_THROW(parseNpy(valid, "valid"));
  for (size_t n = 0; n < valid.size(); ++n)
    bad(valid.substr(0, n));
  // Flipping any header byte never crashes (it may still parse).
  for (size_t i = 0; i < valid.size() - 8; ++i) {
    std::string m = valid;
    m[i] = (char)(m[i] ^ 0x5a);
    try {
      parseNpy(m, "mutated");
    } catch (const Error &) {
    }
  }
}

TEST(Npy, FileErrors) {
  EXPECT_THROW(readNpy("/nonexistent/dir/x.npy"), Error);
  Tensor x(DType::F32, {1});
  EXPECT_THROW(writeNpy("/nonexistent/dir/x.npy", x), Error);
  EXPECT_THROW(writeNpy(tempPath("bf16"), Tensor(DType::BF16, {1})), Error);
  try {
    readNpy("/nonexistent/dir/x.npy");
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.npy"),
              std::string::npos);
  }
}
