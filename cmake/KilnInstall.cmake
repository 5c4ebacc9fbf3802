# `cmake --install` for kiln: the tools, the shared libraries a pass plugin
# links (kiln::IR, kiln::Passes, kiln::Reference), public headers (with the
# generated .h.inc), the runtime archive and its C headers, and the CMake
# package `find_package(kiln CONFIG)` (cmake/kilnConfig.cmake.in).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KILN_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)
set(KILN_LIBS kilnReference kilnIR kilnPasses)

# The package's target names, and the same names inside this build tree (the
# in-tree build of examples/pass-plugin links kiln::Passes either way).
set_target_properties(kilnReference PROPERTIES EXPORT_NAME Reference)
set_target_properties(kilnIR PROPERTIES EXPORT_NAME IR)
set_target_properties(kilnPasses PROPERTIES EXPORT_NAME Passes)
add_library(kiln::Reference ALIAS kilnReference)
add_library(kiln::IR ALIAS kilnIR)
add_library(kiln::Passes ALIAS kilnPasses)
# No -D<lib>_EXPORTS: nothing uses it, and without it the objects compile
# exactly as the static libraries did (ccache hits across build trees).
set_target_properties(${KILN_LIBS} PROPERTIES DEFINE_SYMBOL "")

# Installed binaries find kiln's libraries in ../lib and libMLIR/libLLVM in
# /usr/lib/llvm-22/lib (a link directory outside the build tree).
set_target_properties(kiln kiln-opt ${KILN_LIBS} PROPERTIES
  INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}"
  INSTALL_RPATH_USE_LINK_PATH TRUE)

install(TARGETS kiln kiln-opt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${KILN_LIBS} EXPORT kilnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# `kiln compile` links every generated library with ../lib/libkilnrt.a.
install(TARGETS kilnrt ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

# Headers: kiln/IR, kiln/Reference, kiln/Passes (and their .td), kiln/kiln_*.h.
install(DIRECTORY
    ${PROJECT_SOURCE_DIR}/ir/include/
    ${PROJECT_SOURCE_DIR}/passes/include/
    ${PROJECT_SOURCE_DIR}/runtime/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY
    ${PROJECT_BINARY_DIR}/ir/include/
    ${PROJECT_BINARY_DIR}/passes/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h.inc")

install(EXPORT kilnTargets NAMESPACE kiln::
  DESTINATION ${KILN_CMAKE_INSTALL_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/kilnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/kilnConfig.cmake
  INSTALL_DESTINATION ${KILN_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
install(FILES
    ${PROJECT_BINARY_DIR}/cmake/kilnConfig.cmake
    ${CMAKE_CURRENT_LIST_DIR}/KilnPassPlugin.cmake
  DESTINATION ${KILN_CMAKE_INSTALL_DIR})

include(${CMAKE_CURRENT_LIST_DIR}/KilnPassPlugin.cmake)
