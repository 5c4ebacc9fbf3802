# Writes the runtime headers as C++ raw string literals (see CMakeLists.txt).
file(READ ${TYPES} types)
file(READ ${RUNTIME} runtime)
file(WRITE ${OUT}
  "// Generated from runtime/include/kiln: do not edit.\n"
  "static const char kModelTypesHeader[] = R\"KILNHDR(${types})KILNHDR\";\n"
  "static const char kRuntimeHeader[] = R\"KILNHDR(${runtime})KILNHDR\";\n")
