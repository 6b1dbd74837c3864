# Shared CMake helpers: dependencies, warnings, sanitizers and test registration.

function(jet_find_dependencies)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(UV REQUIRED IMPORTED_TARGET GLOBAL libuv)
  pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET GLOBAL libsodium)
  pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET GLOBAL lmdb)
  pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET GLOBAL libprotobuf-c)
  pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET GLOBAL jansson)
  pkg_check_modules(INIH REQUIRED IMPORTED_TARGET GLOBAL inih)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET GLOBAL cmocka)
  # libcsv and lp_solve ship no pkg-config file in Debian 12.
  find_library(CSV_LIBRARY NAMES csv REQUIRED)
  find_path(CSV_INCLUDE_DIR NAMES csv.h REQUIRED)
  find_library(LPSOLVE_LIBRARY NAMES lpsolve55 PATH_SUFFIXES lp_solve REQUIRED)
  find_path(LPSOLVE_INCLUDE_DIR NAMES lp_lib.h PATH_SUFFIXES lpsolve REQUIRED)
  # lp_solve's library needs COLAMD (SuiteSparse) for its factorisation.
  find_library(COLAMD_LIBRARY NAMES colamd REQUIRED)
  set(LPSOLVE_LIBRARY ${LPSOLVE_LIBRARY} ${COLAMD_LIBRARY})
  find_program(PROTOC_C protoc-c REQUIRED)
  set(CSV_LIBRARY ${CSV_LIBRARY} PARENT_SCOPE)
  set(CSV_INCLUDE_DIR ${CSV_INCLUDE_DIR} PARENT_SCOPE)
  set(LPSOLVE_LIBRARY ${LPSOLVE_LIBRARY} PARENT_SCOPE)
  set(LPSOLVE_INCLUDE_DIR ${LPSOLVE_INCLUDE_DIR} PARENT_SCOPE)
  set(PROTOC_C ${PROTOC_C} PARENT_SCOPE)
endfunction()

# Warnings are errors on our own code only (generated protobuf code gets -w).
function(jet_setup_warnings)
  set(JET_WARNINGS -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
      -Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter PARENT_SCOPE)
  if(JET_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
  endif()
  if(JET_RELEASE)
    add_compile_options(-O2 -DNDEBUG)
  endif()
endfunction()

# jet_target_warnings(target): apply our warning set.
function(jet_target_warnings target)
  target_compile_options(${target} PRIVATE ${JET_WARNINGS})
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()

# jet_add_test(NAME label [TIMEOUT s] [SOURCES ...]): one executable per module test,
# registered with ctest with a time-out and a label (unit, integration, fault).
function(jet_add_test name label)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT T_SOURCES)
    set(T_SOURCES ${name}.c)
  endif()
  add_executable(${name} ${T_SOURCES})
  jet_target_warnings(${name})
  target_link_libraries(${name} PRIVATE jetsync_common PkgConfig::CMOCKA)
  target_compile_definitions(${name} PRIVATE
    JET_SHARED_DIR="${JET_SHARED_DIR}" JET_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    JET_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS ${label}
    ENVIRONMENT "JET_BIN_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# jet_add_script_test(NAME label script [TIMEOUT s]): a black-box test that drives the
# real jetsync and jetsyncd binaries.
function(jet_add_script_test name label script)
  cmake_parse_arguments(T "" "TIMEOUT" "" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND bash ${script})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS ${label}
    ENVIRONMENT "JETSYNC=$<TARGET_FILE:jetsync>;JETSYNCD=$<TARGET_FILE:jetsyncd>;JET_SOURCE_DIR=${PROJECT_SOURCE_DIR};JET_SHARED_DIR=${JET_SHARED_DIR}")
endfunction()
