# Installation and the CMake package, so that another project can do
#   find_package(tapegrad CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE tapegrad::tapegrad)   # tensors, autograd, ops, optim, nn
#   target_link_libraries(app PRIVATE tapegrad::viz)        # + graph dumps and charts
# (and tapegrad::bench, the benchmark protocol; tapegrad::script, ScriptArgs)
# Layout under the prefix:
#   include/tapegrad/tapegrad.hpp, include/tapegrad/<layer>/*.hpp
#   lib/libtapegrad.so, libtapegrad_{viz,bench,script}.so (static .a with -DBUILD_SHARED_LIBS=OFF)
#   lib/libtapegrad_run_support.a, lib/tapegrad/pch/ (what `tapegrad run` gives scripts)
#   lib/cmake/tapegrad/{tapegradConfig,tapegradConfigVersion,tapegradTargets*}.cmake
include(CMakePackageConfigHelpers)

set(TAPEGRAD_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad
    CACHE STRING "Where tapegradConfig.cmake is installed, relative to the prefix")

# Headers sit beside their sources; install each layer's *.hpp under include/tapegrad/<layer>.
# A layer folder that holds no file yet does not exist in a fresh clone, so skip it.
install(FILES ${PROJECT_SOURCE_DIR}/tapegrad.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad)
foreach(layer IN LISTS TAPEGRAD_LAYERS)
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${layer})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad/${layer}
            FILES_MATCHING PATTERN "*.hpp")
  endif()
endforeach()

# tools/ installs its libraries' headers itself (tapegrad_tools_library); the headers at the
# top of tools/ keep the paths they had before tools/ was split by role.
install(FILES ${PROJECT_SOURCE_DIR}/tools/graph.hpp ${PROJECT_SOURCE_DIR}/tools/chart.hpp
              ${PROJECT_SOURCE_DIR}/tools/bench.hpp ${PROJECT_SOURCE_DIR}/tools/script_args.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tapegrad/tools)

# The library. Its include directory is $<INSTALL_INTERFACE:include>; tapegrad_warnings is
# linked through $<BUILD_INTERFACE:...> and so is not part of the exported interface.
install(TARGETS tapegrad
        EXPORT tapegradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(EXPORT tapegradTargets
        NAMESPACE tapegrad::
        DESTINATION ${TAPEGRAD_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/tapegradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
  INSTALL_DESTINATION ${TAPEGRAD_INSTALL_CMAKEDIR})
# 0.x: a minor release may break the API, so only the same major.minor is compatible.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
              ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
        DESTINATION ${TAPEGRAD_INSTALL_CMAKEDIR})

# The command-line program, when tools are built: <prefix>/bin/tapegrad.
if(TARGET tapegrad_cli)
  install(TARGETS tapegrad_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
