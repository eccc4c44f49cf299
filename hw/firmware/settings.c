/* EEPROM settings. The defaults (with the serial number given at build
 * time) are in the program and in the build's .eep file: an EEPROM never
 * written (a board flashed through its bootloader, which cannot write
 * EEPROM) starts from them. TARE and SET_RATE store the settings, changed
 * bytes only (a cell lasts about 100,000 writes), one byte at a time from
 * the main loop: a byte takes 3.4 ms to write (datasheet), so a new zero
 * (8 bytes) written at once would stall the loop for 27 ms and lose two
 * conversions at 80/s while samples stream. */
#include "settings.h"

#include <avr/eeprom.h>
#include <avr/pgmspace.h>
#include <stdbool.h>
#include <string.h>

static roller_settings stored EEMEM = ROLLER_SETTINGS_DEFAULTS;

/* Settings stored under another serial are another build's: a board
 * flashed again through its bootloader keeps its EEPROM, and a maker who
 * gave the new build its own serial must see that one. */
static bool usable(const roller_settings *s)
{
    return s->layout == ROLLER_SETTINGS_LAYOUT &&
           (s->rate_hz == ROLLER_RATE_SLOW_HZ || s->rate_hz == ROLLER_RATE_FAST_HZ) &&
           memchr(s->serial, '\0', sizeof s->serial) != NULL &&
           strcmp_P(s->serial, PSTR(ROLLER_SERIAL)) == 0;
}

void settings_load(roller_settings *s)
{
    eeprom_read_block(s, &stored, sizeof *s);
    if (!usable(s))
        *s = (roller_settings)ROLLER_SETTINGS_DEFAULTS;
}

static roller_settings to_store;
static uint8_t next_to_store = sizeof to_store; /* none left */

void settings_save(const roller_settings *s)
{
    to_store = *s;
    next_to_store = 0;
}

void settings_poll(void)
{
    const uint8_t *from = (const uint8_t *)&to_store;
    uint8_t *to = (uint8_t *)&stored;
    while (next_to_store < sizeof to_store && eeprom_is_ready()) {
        eeprom_update_byte(to + next_to_store, from[next_to_store]);
        next_to_store++;
    }
}
