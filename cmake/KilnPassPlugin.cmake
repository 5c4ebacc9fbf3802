# kiln_add_pass_plugin(<name> <sources>...): a pass plugin, <name>.so, that
# `kiln compile` and `kiln-opt` load with --load-pass-plugin=<path>.
# It links kiln's shared libraries (kiln::Passes, kiln::IR) and libMLIR, the
# very ones the kiln tool has loaded, so kiln's ops (isa<kiln::MulOp>, their
# TypeIDs) and MLIR's registries are shared with the host, never copied.
# Used by examples/pass-plugin, in kiln's build tree and against an install.
function(kiln_add_pass_plugin name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES PREFIX "")
  target_link_libraries(${name} PRIVATE kiln::Passes)
  # The plugin calls its own copies of inline LLVM/MLIR functions that it did
  # not inline (at -O0, most): the kiln tool also has Halide's LLVM 14 loaded,
  # whose same-named symbols would otherwise win the lookup (and crash).
  target_link_options(${name} PRIVATE -Wl,-Bsymbolic-functions)
  if(NOT LLVM_ENABLE_RTTI)
    target_compile_options(${name} PRIVATE -fno-rtti)
  endif()
endfunction()
