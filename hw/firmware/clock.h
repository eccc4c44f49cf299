/* A free-running microsecond clock from Timer1; wraps after 2^32 us. */
#ifndef ROLLER_CLOCK_H
#define ROLLER_CLOCK_H
#include <stdint.h>
void clock_init(void);
uint32_t clock_us(void);
#endif
