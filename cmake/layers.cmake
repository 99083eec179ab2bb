# The layering of DESIGN.md, as the build enforces it. Each layer is one object library whose
# sources see, under <tapegrad/...>, only its own folder and the layers it may use; an include
# that points up fails to compile. cmake/check_layers.cmake reads the same lists to grep the
# sources (the `layering` test), so a rule broken in a header no source includes yet is
# caught too.
set(TAPEGRAD_LAYERS core autograd ops optim nn)
set(TAPEGRAD_USES_core)
set(TAPEGRAD_USES_autograd core)
set(TAPEGRAD_USES_ops core autograd)
set(TAPEGRAD_USES_optim core autograd)
set(TAPEGRAD_USES_nn core autograd ops optim)

# An interface target with the flags every library of tapegrad is compiled with.
function(tapegrad_library_flags name)
  add_library(${name} INTERFACE)
  # Nothing reads errno after a math call; with it set, every std::sqrt carries a check and a
  # libm call for negative inputs, which keeps loops like Adam's update from vectorizing. The
  # results do not change (vector sqrt rounds as the scalar one).
  target_compile_options(${name} INTERFACE -fno-math-errno)
  # Nothing interposes tapegrad's own functions, so calls inside the shared library stay
  # direct and inlinable, as in a static one, rather than going through the PLT.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} INTERFACE -fno-semantic-interposition)
  endif()
  # Every op reads thread-locals (its tape, grad mode, allocator cache). In a shared library
  # each read was a call of __tls_get_addr (3% of the reference workload); TLS descriptors
  # make the common case a load. The sanitizers' runtimes track TLS through __tls_get_addr,
  # so their builds keep the default dialect.
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU"
     AND NOT (TAPEGRAD_SANITIZE OR TAPEGRAD_TSAN OR TAPEGRAD_FUZZ))
    target_compile_options(${name} INTERFACE -mtls-dialect=gnu2)
  endif()
  # nn/ and core/version.cpp record the version in the files nn::save writes.
  target_compile_definitions(${name} INTERFACE TAPEGRAD_VERSION="${PROJECT_VERSION}")
  target_compile_features(${name} INTERFACE cxx_std_20)
  target_include_directories(${name} INTERFACE ${OpenBLAS_INCLUDE_DIRS} ${LIBXSMM_INCLUDE_DIR}
                             ${DNNL_INCLUDE_DIR})
  target_link_libraries(${name} INTERFACE fmt::fmt nlohmann_json::nlohmann_json
                        tapegrad_warnings)
endfunction()

# The object library tapegrad_LAYER of LAYER/*.cpp, with its own include root.
function(tapegrad_layer layer)
  set(root ${PROJECT_BINARY_DIR}/layers/${layer}/tapegrad)
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root})
  foreach(visible IN ITEMS ${layer} ${TAPEGRAD_USES_${layer}})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${visible} ${root}/${visible} SYMBOLIC)
  endforeach()
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${layer}/*.cpp)
  add_library(tapegrad_${layer} OBJECT ${sources})
  target_include_directories(tapegrad_${layer} PRIVATE ${PROJECT_BINARY_DIR}/layers/${layer})
  target_link_libraries(tapegrad_${layer} PRIVATE tapegrad_layer_flags)
  set_target_properties(tapegrad_${layer} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
