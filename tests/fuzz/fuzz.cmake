# libFuzzer targets and their bounded CTest runs: one helper, minicloud_add_fuzzer().
#
#   minicloud_add_fuzzer(NAME fuzz_<what>
#     SOURCES  <fuzz target .cc> <sources of the code under test...>
#     [LIBS     <imported targets of Debian packages (absl::strings, OpenSSL::Crypto, ZLIB::ZLIB)
#                or plain library names (lzma)>]
#     [PACKAGES <find_package() names the LIBS need besides absl and OpenSSL, e.g. ZLIB>]
#     [INCLUDES <extra include directories>]
#     [CORPUS   <checked-in seed directory; default: ./corpus next to the caller if present>]
#     [RUNS     <inputs per CTest run; default MINICLOUD_FUZZ_RUNS>]
#     [MAX_LEN  <largest input in bytes; default 4096>])
#
# The code under test is compiled from SOURCES into the fuzzer itself (not linked from the
# project's libraries) so that it carries libFuzzer's coverage instrumentation. libFuzzer needs
# clang: with clang as the compiler the fuzzer is an ordinary target; otherwise clang++ builds it
# as a separate CMake project (standalone/, through ExternalProject). Without clang++
# configuration fails (the tests would otherwise silently not exist); -DMINICLOUD_FUZZ=OFF
# leaves every fuzzer out knowingly.
#
# CTest runs each fuzzer as unit:<NAME> (labels unit, fuzz) for a fixed number of inputs with a
# fixed seed. New inputs go to <build>/<NAME>-corpus (the checked-in seeds are read only); a crash
# leaves its input in <build>/<NAME>-artifacts/; reproduce with `<NAME> <file>`.

option(MINICLOUD_FUZZ "Build and test the libFuzzer targets (needs clang++)" ON)
set(MINICLOUD_FUZZ_RUNS 20000 CACHE STRING "Inputs each fuzzer's CTest run tries")
set(MINICLOUD_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

if(NOT MINICLOUD_FUZZ)
  message(WARNING "MINICLOUD_FUZZ=OFF: the libFuzzer tests (tests/fuzz) are not built")
elseif(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  find_program(MINICLOUD_CLANGXX NAMES clang++ clang++-16 clang++-15 clang++-14)
  if(NOT MINICLOUD_CLANGXX)
    message(FATAL_ERROR "clang++ not found: it builds the libFuzzer tests (tests/fuzz). "
                        "Install it with deploy/install-deps.sh (packages clang, libclang-rt-dev), "
                        "or configure with -DMINICLOUD_FUZZ=OFF to leave the tests out.")
  endif()
  include(ExternalProject)
endif()

function(minicloud_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;CORPUS;RUNS;MAX_LEN" "SOURCES;LIBS;PACKAGES;INCLUDES" ${ARGN})
  if(NOT F_NAME OR NOT F_SOURCES)
    message(FATAL_ERROR "minicloud_add_fuzzer: NAME and SOURCES are required")
  endif()
  if(NOT MINICLOUD_FUZZ)
    return()
  endif()
  if(NOT DEFINED F_RUNS)
    set(F_RUNS ${MINICLOUD_FUZZ_RUNS})
  endif()
  if(NOT DEFINED F_MAX_LEN)
    set(F_MAX_LEN 4096)
  endif()
  if(NOT DEFINED F_CORPUS AND IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/corpus)
    set(F_CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/corpus)
  endif()
  set(sources)
  foreach(s ${F_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND sources ${abs})
  endforeach()
  set(includes ${PROJECT_SOURCE_DIR} ${F_INCLUDES})

  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    foreach(p ${F_PACKAGES})
      find_package(${p} REQUIRED)
    endforeach()
    add_executable(${F_NAME} ${sources})
    target_include_directories(${F_NAME} PRIVATE ${includes})
    target_compile_options(${F_NAME} PRIVATE ${MINICLOUD_FUZZ_FLAGS})
    target_link_options(${F_NAME} PRIVATE ${MINICLOUD_FUZZ_FLAGS})
    target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
    set(bin $<TARGET_FILE:${F_NAME}>)
  else()
    # Everything the standalone build needs, in one file it includes (rewritten only when it
    # changes, so an unchanged fuzzer is not reconfigured).
    set(spec ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}-spec.cmake)
    file(CONFIGURE OUTPUT ${spec} @ONLY CONTENT [[
set(FUZZ_NAME "@F_NAME@")
set(FUZZ_SOURCES "@sources@")
set(FUZZ_INCLUDES "@includes@")
set(FUZZ_LIBS "@F_LIBS@")
set(FUZZ_PACKAGES "@F_PACKAGES@")
set(FUZZ_FLAGS "@MINICLOUD_FUZZ_FLAGS@")
]])
    set(build_dir ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}-build)
    ExternalProject_Add(${F_NAME}
      SOURCE_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz/standalone
      BINARY_DIR ${build_dir}
      CMAKE_ARGS -DCMAKE_CXX_COMPILER=${MINICLOUD_CLANGXX}
                 -DCMAKE_BUILD_TYPE=RelWithDebInfo
                 -DMINICLOUD_FUZZ_SPEC=${spec}
      INSTALL_COMMAND ""
      BUILD_ALWAYS ON
      BUILD_BYPRODUCTS ${build_dir}/${F_NAME})
    set(bin ${build_dir}/${F_NAME})
  endif()

  set(seeds "")
  if(F_CORPUS)
    get_filename_component(F_CORPUS ${F_CORPUS} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    set(seeds "'${F_CORPUS}'")
  endif()
  set(corpus ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}-corpus)
  set(artifacts ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}-artifacts)
  add_test(NAME unit:${F_NAME}
    COMMAND sh -c "mkdir -p '${corpus}' '${artifacts}' && exec \"$0\" -runs=${F_RUNS} -seed=1 -max_len=${F_MAX_LEN} -timeout=10 -artifact_prefix='${artifacts}/' '${corpus}' ${seeds}"
            ${bin})
  set_tests_properties(unit:${F_NAME} PROPERTIES LABELS "unit;fuzz" TIMEOUT 600)
endfunction()
