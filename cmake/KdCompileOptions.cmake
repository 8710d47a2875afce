# Shared warning and definition settings for every KD Workbench target.
add_library(kd_compile_options INTERFACE)
target_compile_options(kd_compile_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wno-unused-parameter>
  $<$<AND:$<BOOL:${KD_WARNINGS_AS_ERRORS}>,$<CXX_COMPILER_ID:GNU,Clang>>:-Werror>)
# Torch headers use the identifier `slots`; Qt must not define it as a keyword.
target_compile_definitions(kd_compile_options INTERFACE QT_NO_KEYWORDS)

# LibTorch as one interface target: its includes, libraries and required flags.
add_library(kd_torch INTERFACE)
add_library(kd::torch ALIAS kd_torch)
target_link_libraries(kd_torch INTERFACE ${TORCH_LIBRARIES})
separate_arguments(_kd_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(kd_torch INTERFACE ${_kd_torch_flags})
