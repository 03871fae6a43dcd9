# Warnings and hardening shared by every target. -Werror is on when OOMLESS_WERROR is (CI sets it).
set(OOMLESS_WARNINGS
    -Wall -Wextra -Wshadow -Wformat=2 -Wformat-security
    $<$<COMPILE_LANGUAGE:C>:-Wmissing-prototypes> $<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes>
    -Wpointer-arith -Wundef -Wvla -Wno-unused-parameter -Wimplicit-fallthrough -Wno-missing-field-initializers)
if(OOMLESS_WERROR)
  list(APPEND OOMLESS_WARNINGS -Werror)
endif()
add_compile_options(${OOMLESS_WARNINGS})

# Hardening: fortify (needs optimisation), stack protector, PIE, full RELRO, non-exec stack.
add_compile_options(-fstack-protector-strong -fstack-clash-protection)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
include(CheckPIESupported)
check_pie_supported()
add_link_options(-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)
