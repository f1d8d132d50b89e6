# reka_add_module(NAME <name> SRCS <files...> DEPS <targets...> [EXCLUDE_DIRS <dirs...>]
#                 [TEST_SHARDS <n>])
# One src/ folder = one static library `reka_<name>`. Every `*Test.cc` in the folder (and its
# sub-folders, except EXCLUDE_DIRS: sub-folders that are modules of their own) becomes part of
# `reka_<name>_tests`, registered with CTest (reka_add_gtest_shards).
# The include paths of a library of Reka's: include/ (and the generated include/) for every user,
# src/ for its own sources only. The same order as reka_internal's, so that a file compiles with
# the same flags wherever it is built from.
function(reka_module_includes target)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                              $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
                                       PRIVATE ${PROJECT_SOURCE_DIR}/src
                                       INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endfunction()

# reka_internal: Reka's private headers (src/) for its own command, tests, benchmarks and fuzz
# targets, linked before anything else. Users (examples/, an installed package, a tree added
# with add_subdirectory) see include/ alone.
add_library(reka_internal INTERFACE)
target_include_directories(reka_internal INTERFACE ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include ${PROJECT_SOURCE_DIR}/src)

function(reka_add_module)
  cmake_parse_arguments(M "" "NAME;TEST_SHARDS" "SRCS;DEPS;EXCLUDE_DIRS" ${ARGN})
  set(target reka_${M_NAME})
  add_library(${target} STATIC ${M_SRCS})
  # include/ is what the module offers its users; src/ is private to the modules. Reka's own
  # tools and tests reach src/ through reka_internal (reka_internal_includes).
  reka_module_includes(${target})
  target_link_libraries(${target} PUBLIC ${M_DEPS})
  if(REKA_SANITIZE)
    # A sanitized library needs its runtime wherever it is linked, installed copies included.
    target_link_options(${target} INTERFACE -fsanitize=${REKA_SANITIZE})
  endif()
  set_property(GLOBAL APPEND PROPERTY REKA_MODULES ${target})
  if(REKA_BUILD_TESTS)
    file(GLOB_RECURSE tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*Test.cc)
    foreach(dir ${M_EXCLUDE_DIRS})
      list(FILTER tests EXCLUDE REGEX "^${CMAKE_CURRENT_SOURCE_DIR}/${dir}/")
    endforeach()
    if(tests)
      add_executable(${target}_tests ${tests})
      target_link_libraries(${target}_tests PRIVATE reka_internal ${target} reka_testing GTest::gtest GTest::gtest_main GTest::gmock)
      reka_use_test_pch(${target}_tests)
      if(NOT M_TEST_SHARDS)
        set(M_TEST_SHARDS 1)
      endif()
      reka_add_gtest_shards(${target}_tests ${M_TEST_SHARDS} ${M_NAME})
    endif()
  endif()
endfunction()

# reka_add_gtest_shards(<executable> <shards> <label>)
# A module's unit tests are one CTest test per executable, or per shard of a long one
# (GoogleTest's GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX), named `<executable>/<i>`: not one per
# GoogleTest case. A process per case cost more than most cases do (starting a sanitized test
# executable takes about 0.1 s, and the suite has over a thousand cases). Run one case with the
# executable itself: `build/debug/src/runtime/reka_runtime_tests --gtest_filter='Suite.Case'`.
function(reka_add_gtest_shards exe shards label)
  math(EXPR last "${shards} - 1")
  foreach(i RANGE 0 ${last})
    add_test(NAME ${exe}/${i} COMMAND ${exe} --gtest_brief=1)
    # COST: ctest starts these (whole executables, several seconds each) before the single cases
    # of the integration tests, so that none is left as a tail at the end.
    set_tests_properties(${exe}/${i} PROPERTIES TIMEOUT 300 LABELS ${label} COST 200
                         ENVIRONMENT "GTEST_TOTAL_SHARDS=${shards};GTEST_SHARD_INDEX=${i}")
  endforeach()
endfunction()

# Compiles `target` with the shared test header (src/CMakeLists.txt), when there is one.
function(reka_use_test_pch target)
  reka_test_warnings(${target})
  if(TARGET reka_test_pch)
    target_precompile_headers(${target} REUSE_FROM reka_test_pch)
  endif()
endfunction()

# g++ 12 at -O3 reports a false -Wstringop-overflow inside libstdc++ for `"literal" +
# std::string` (a memcpy bound that "exceeds maximum object size"; the GCC bug 105329 family,
# whose -Wrestrict form the top-level CMakeLists.txt already keeps a warning). Whether it fires
# depends on what GCC inlines, and the tests use the idiom everywhere: in test code it stays a
# warning. (The precompiled header must be built with the same options as its users.)
function(reka_test_warnings target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13 AND REKA_WERROR)
    target_compile_options(${target} PRIVATE -Wno-error=stringop-overflow)
  endif()
endfunction()

# reka_add_benchmark(NAME <name> SRCS <files...> DEPS <targets...>)
function(reka_add_benchmark)
  cmake_parse_arguments(B "" "NAME" "SRCS;DEPS" ${ARGN})
  if(REKA_BUILD_BENCH)
    add_executable(${B_NAME} ${B_SRCS})
    target_link_libraries(${B_NAME} PRIVATE reka_internal ${B_DEPS} benchmark::benchmark)
    reka_use_allocator(${B_NAME})
  endif()
endfunction()

# Links the process-wide allocator chosen at configure time (REKA_ALLOCATOR) into an executable.
function(reka_use_allocator target)
  if(REKA_ALLOCATOR)
    target_link_libraries(${target} PRIVATE ${REKA_ALLOCATOR})
    if(REKA_ALLOCATOR STREQUAL "mimalloc")
      target_compile_definitions(${target} PRIVATE REKA_WITH_MIMALLOC=1)
    endif()
  endif()
endfunction()
