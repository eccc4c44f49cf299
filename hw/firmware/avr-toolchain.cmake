# Cross-compiling for the ATmega328P with Debian's gcc-avr and avr-libc;
# hw/firmware/CMakeLists.txt uses it unless told otherwise:
#   cmake -S hw/firmware -B build-avr
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR avr)
find_program(AVR_GCC avr-gcc REQUIRED)
find_program(AVR_OBJCOPY avr-objcopy REQUIRED)
find_program(AVR_SIZE avr-size REQUIRED)
set(CMAKE_C_COMPILER ${AVR_GCC})
set(CMAKE_OBJCOPY ${AVR_OBJCOPY})
# No host libraries or headers: the compiler's own avr-libc only.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
