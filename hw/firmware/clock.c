/* Timer1 counts at F_CPU / 8 = 2 MHz; its overflow (every 65536 ticks =
 * 32768 us) is counted in an interrupt. */
#include "clock.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/atomic.h>

#define US_PER_OVERFLOW 32768UL
#define TICKS_PER_US 2

static volatile uint32_t overflows;
static volatile bool overflowed;

ISR(TIMER1_OVF_vect)
{
    overflows++;
    overflowed = true;
}

void clock_init(void)
{
    TCCR1A = 0;
    TCCR1B = _BV(CS11); /* prescaler 8 */
    TIMSK1 = _BV(TOIE1);
}

uint32_t clock_us(void)
{
    uint32_t high;
    uint16_t ticks;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        high = overflows;
        ticks = TCNT1;
        /* An overflow that happened since interrupts were blocked is not
         * counted yet; a small count means it is already in ticks. */
        if ((TIFR1 & _BV(TOV1)) && ticks < 0x8000)
            high++;
    }
    return high * US_PER_OVERFLOW + ticks / TICKS_PER_US;
}

bool clock_overflowed(void)
{
    bool was;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        was = overflowed;
        overflowed = false;
    }
    return was;
}
