# The engine's libraries beyond LibTorch. Required: nlohmann_json (project files, run records)
# and zlib (gzip IDX datasets, checkpoint checksums). Optional for an engine-only build
# (-DKD_BUILD_GUI=OFF -DKD_BUILD_TESTS=OFF, e.g. scripts/gpu-check.sh on a GPU host that has
# only a compiler, CMake and a CUDA PyTorch): OpenCV (image-folder datasets, feature-map PNGs)
# and Protobuf (TensorBoard event files). The GUI and the test suite need all of them.
#
# A host without the header-only nlohmann_json or zlib's headers can point KD_DEPS_DIR at a
# folder holding include/nlohmann/json.hpp and include/zlib.h (scripts/gpu-deps-bundle.sh
# makes one from Debian's packages); zlib's library then comes from the system (libz.so.1).

set(KD_DEPS_DIR "" CACHE PATH "Folder with include/nlohmann and include/zlib.h for hosts without those packages")
set(_kd_full_build OFF)
if(KD_BUILD_GUI OR KD_BUILD_TESTS)
  set(_kd_full_build ON)
endif()

find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  if(KD_DEPS_DIR AND EXISTS "${KD_DEPS_DIR}/include/nlohmann/json.hpp")
    add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
    set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${KD_DEPS_DIR}/include")
    message(STATUS "nlohmann_json: from KD_DEPS_DIR (${KD_DEPS_DIR}/include)")
  else()
    message(FATAL_ERROR "nlohmann_json (>= 3.10) was not found. Install it (Debian/Ubuntu: "
      "apt-get install nlohmann-json3-dev; scripts/install-deps.sh does) or set -DKD_DEPS_DIR to a "
      "folder made by scripts/gpu-deps-bundle.sh.")
  endif()
endif()

if(NOT ZLIB_ROOT AND KD_DEPS_DIR AND EXISTS "${KD_DEPS_DIR}/include/zlib.h")
  set(ZLIB_INCLUDE_DIR "${KD_DEPS_DIR}/include" CACHE PATH "" FORCE)
  if(NOT ZLIB_LIBRARY)
    find_library(ZLIB_LIBRARY NAMES z libz.so.1 PATHS /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu)
  endif()
endif()
find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "zlib was not found (its header zlib.h and libz). Install it (apt-get install "
    "zlib1g-dev) or set -DKD_DEPS_DIR to a folder made by scripts/gpu-deps-bundle.sh.")
endif()

option(KD_WITH_OPENCV "Use OpenCV where found (image-folder datasets, feature-map PNGs)" ON)
option(KD_WITH_TFEVENTS "Use Protobuf where found (TensorBoard event files)" ON)
if(KD_WITH_OPENCV)
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs)
else()
  set(OpenCV_FOUND FALSE)
endif()
if(KD_WITH_TFEVENTS)
  find_package(Protobuf QUIET)
  if(Protobuf_FOUND AND NOT Protobuf_PROTOC_EXECUTABLE)
    set(Protobuf_FOUND FALSE)
  endif()
else()
  set(Protobuf_FOUND FALSE)
endif()
foreach(_dep OpenCV Protobuf)
  if(NOT ${_dep}_FOUND AND _kd_full_build)
    message(FATAL_ERROR "${_dep} was not found; the GUI and the test suite need it. Run "
      "scripts/install-deps.sh, or build the engine and kdw alone with "
      "-DKD_BUILD_GUI=OFF -DKD_BUILD_TESTS=OFF.")
  endif()
endforeach()
set(KD_HAVE_OPENCV ${OpenCV_FOUND})
set(KD_HAVE_PROTOBUF ${Protobuf_FOUND})
if(NOT KD_HAVE_OPENCV)
  message(WARNING "OpenCV not found: this kdw cannot read image-folder datasets or draw feature-map "
    "PNGs (runs that ask for them say so). Install libopencv-dev for them.")
endif()
if(NOT KD_HAVE_PROTOBUF)
  message(WARNING "Protobuf (library and protoc) not found: this kdw writes no TensorBoard event "
    "files (metrics.csv and the rest of the run directory are unchanged). Install "
    "libprotobuf-dev protobuf-compiler for them.")
endif()

set(KD_GENERATED_INCLUDE_DIR ${PROJECT_BINARY_DIR}/generated)
configure_file(${CMAKE_CURRENT_LIST_DIR}/BuildConfig.h.in ${KD_GENERATED_INCLUDE_DIR}/kd_build_config.h)
