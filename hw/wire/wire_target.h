/* The one target-specific piece of the wire code: where constant tables
 * live. On AVR, flash and RAM are separate address spaces and RAM is 2 KB,
 * so the CRC table stays in flash (PROGMEM) and is read with
 * pgm_read_dword; elsewhere it is an ordinary constant array. */
#ifndef RM_WIRE_TARGET_H
#define RM_WIRE_TARGET_H

#if defined(__AVR__)
#include <avr/pgmspace.h>
#define RM_WIRE_FLASH PROGMEM
#define RM_WIRE_FLASH_U32(p) pgm_read_dword(p)
#else
#define RM_WIRE_FLASH
#define RM_WIRE_FLASH_U32(p) (*(p))
#endif

#endif
