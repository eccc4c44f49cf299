/* A free-running microsecond clock from Timer1; wraps after 2^32 us. */
#ifndef ROLLER_CLOCK_H
#define ROLLER_CLOCK_H
#include <stdbool.h>
#include <stdint.h>
void clock_init(void);
uint32_t clock_us(void);
/* True once after each overflow (every 32.8 ms): a heartbeat for what
 * the main loop does on time alone. */
bool clock_overflowed(void);
#endif
