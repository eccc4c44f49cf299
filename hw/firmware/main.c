/* rollmap reference firmware for a DIY roller: two HX711 load cells in the
 * end caps, a quadrature encoder on the axle and a "tender here" button,
 * on an ATmega328P at 16 MHz, speaking docs/PROTOCOL.md over the UART.
 *
 * One loop, run when there is work (a conversion ready, a received byte,
 * the button, the clock's overflow every 32.8 ms): it answers
 * commands, pairs the two ADCs' conversions into samples, batches them into
 * SAMPLES frames, and sleeps when there is nothing to do. The watchdog
 * resets the chip if the loop stops; every boot announces itself with
 * EVENT RESET and INFO, as the protocol asks. */
#include "board.h"
#include "clock.h"
#include "encoder.h"
#include "hx711.h"
#include "report.h"
#include "settings.h"
#include "uart.h"

#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <stdbool.h>

#define BOTH_CHIPS 0x03
#define STATUS_PERIOD_US 1000000UL
#define FAULT_AFTER_US 1000000UL    /* an HX711 silent this long is faulty */
#define DEBOUNCE_US 20000UL         /* button contacts settle within 20 ms */
#define BLINK_IDLE_US 500000UL
#define BLINK_FAULT_US 100000UL
/* Conversions to discard after power-up or a rate change: the HX711
 * settles within 4 conversions (datasheet: 50 ms at 80/s, 400 ms at 10/s). */
#define SETTLING_CONVERSIONS 4
/* Conversions averaged for a new zero. */
#define TARE_CONVERSIONS 8

enum error_code { ERROR_ADC_SILENT = 1, ERROR_UNKNOWN_FRAME = 2, ERROR_RATE = 3 };

typedef struct roller {
    roller_settings settings;
    bool streaming;
    uint16_t seq;             /* frames sent since boot */
    uint32_t dropped;         /* samples that found the UART buffer full */
    roller_sample batch[REPORT_BATCH_MAX];
    uint8_t batched;
    roller_sample pending;    /* the conversions of the sample being read */
    uint8_t chips_read;       /* bit per chip already in pending */
    uint8_t settling;
    uint32_t last_read_us[ROLLER_CHANNELS];
    uint8_t tare_left;
    int32_t tare_sum[ROLLER_CHANNELS];
    bool tared;               /* flag the next sample TARED */
    uint8_t overloaded;       /* bit per channel */
    bool button_raw, button_down, mark_pending;
    uint32_t button_changed_us;
    uint32_t last_status_us, last_fault_us, last_blink_us;
} roller;

static roller r;
static uint8_t wire[REPORT_WIRE_MAX];

/* The watchdog stays on across a reset it caused: turn it off before
 * anything else runs (avr-libc's <avr/wdt.h> notes). */
static void early_watchdog_off(void) __attribute__((naked, used, section(".init3")));
static void early_watchdog_off(void)
{
    MCUSR = 0;
    wdt_disable();
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                  */
/* ------------------------------------------------------------------------ */

static void send(size_t n)
{
    uart_send(wire, n);
    r.seq++;
}

static void send_info(void)
{
    send(report_info(&r.settings, r.seq, clock_us(), wire));
}

static void send_event(uint8_t kind, int32_t value)
{
    send(report_event(kind, value, r.seq, clock_us(), wire));
}

static void send_status(void)
{
    send(report_status(r.streaming, r.settings.rate_hz, r.dropped, r.seq,
                       clock_us(), wire));
}

static void send_ack(uint8_t type, int16_t result)
{
    send(report_ack(type, result, r.seq, clock_us(), wire));
}

static void send_error(uint16_t code, const char *text)
{
    send(report_error(code, text, r.seq, clock_us(), wire));
}

/* SAMPLES never wait: when the UART buffer is full they are dropped and
 * counted, as the protocol asks. */
static void send_batch(void)
{
    size_t n = report_samples(r.batch, r.batched, r.seq, wire);
    if (uart_try_send(wire, n))
        r.seq++;
    else
        r.dropped += r.batched;
    r.batched = 0;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

static uint8_t batch_size(void)
{
    return r.settings.rate_hz == ROLLER_RATE_FAST_HZ ? REPORT_BATCH_FAST : 1;
}

static void apply_rate(void)
{
    hx711_set_fast(r.settings.rate_hz == ROLLER_RATE_FAST_HZ);
    r.settling = SETTLING_CONVERSIONS;
    r.batched = 0;
}

static void set_streaming(uint8_t type, bool on)
{
    send_ack(type, RM_WIRE_ACK_DONE);
    r.streaming = on;
    r.batched = 0;
    r.last_status_us = clock_us();
    send_status();
}

static void set_rate(const uint8_t *payload)
{
    uint32_t rate = rm_wire_get_u32(payload);
    if (rate != ROLLER_RATE_SLOW_HZ && rate != ROLLER_RATE_FAST_HZ) {
        send_error(ERROR_RATE, ROLLER_RATES_TEXT);
        send_ack(RM_WIRE_SET_RATE, RM_WIRE_ACK_BAD_ARGUMENT);
        return;
    }
    send_ack(RM_WIRE_SET_RATE, RM_WIRE_ACK_DONE);
    if (rate != r.settings.rate_hz) {
        r.settings.rate_hz = rate;
        settings_save(&r.settings);
        apply_rate();
    }
    send_status();
}

static void start_tare(void)
{
    send_ack(RM_WIRE_TARE, RM_WIRE_ACK_DONE);
    r.tare_left = TARE_CONVERSIONS;
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++)
        r.tare_sum[c] = 0;
}

static void refuse_unknown(uint8_t type)
{
    static const char hex[] = "0123456789abcdef";
    char text[] = "unknown frame type 0x??";
    text[sizeof text - 3] = hex[type >> 4];
    text[sizeof text - 2] = hex[type & 0x0F];
    send_error(ERROR_UNKNOWN_FRAME, text);
}

static void on_command(const uint8_t *body, size_t len)
{
    uint8_t type = body[0];
    size_t payload = len - RM_WIRE_HEADER_SIZE;
    size_t wanted = type == RM_WIRE_SET_RATE ? RM_WIRE_SET_RATE_SIZE : 0;
    if (type >= RM_WIRE_START && type <= RM_WIRE_SET_RATE && payload != wanted) {
        send_ack(type, RM_WIRE_ACK_BAD_ARGUMENT);
        return;
    }
    switch (type) {
    case RM_WIRE_IDENTIFY: send_info(); break;
    case RM_WIRE_START: set_streaming(type, true); break;
    case RM_WIRE_STOP: set_streaming(type, false); break;
    case RM_WIRE_TARE: start_tare(); break;
    case RM_WIRE_SET_RATE: set_rate(body + RM_WIRE_HEADER_SIZE); break;
    default: refuse_unknown(type); break;
    }
}

static void poll_commands(void)
{
    static uint8_t buf[RM_WIRE_HEADER_SIZE + RM_WIRE_SET_RATE_SIZE + RM_WIRE_CRC_SIZE];
    static rm_wire_receiver rx = {.buf = buf, .cap = sizeof buf};
    int byte;
    while ((byte = uart_receive()) >= 0) {
        size_t body = rm_wire_receive(&rx, (uint8_t)byte);
        if (body)
            on_command(buf, body);
    }
}

/* ------------------------------------------------------------------------ */
/* Samples                                                                  */
/* ------------------------------------------------------------------------ */

static bool saturated(int32_t counts)
{
    return counts >= HX711_MAX || counts <= HX711_MIN;
}

static bool over_rated_load(uint8_t c, int32_t counts)
{
    float newtons = r.settings.gain_n_per_count[c] *
                    ((float)counts - r.settings.offset_counts[c]);
    return newtons > ROLLER_RATED_N || newtons < -ROLLER_RATED_N;
}

/* Flags for the sample's forces; an EVENT OVERLOAD when a channel enters
 * overload. */
static uint16_t force_flags(const roller_sample *s)
{
    uint16_t flags = 0;
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++) {
        uint8_t bit = (uint8_t)(1u << c);
        bool full = saturated(s->counts[c]);
        bool over = full || over_rated_load(c, s->counts[c]);
        if (full)
            flags |= RM_WIRE_FLAG_SATURATED;
        if (over)
            flags |= RM_WIRE_FLAG_OVERLOAD;
        if (over && !(r.overloaded & bit))
            send_event(RM_WIRE_EVENT_OVERLOAD, c);
        r.overloaded = over ? r.overloaded | bit : r.overloaded & ~bit;
    }
    return flags;
}

static void add_to_tare(const roller_sample *s)
{
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++)
        r.tare_sum[c] += s->counts[c];
    if (--r.tare_left > 0)
        return;
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++)
        r.settings.offset_counts[c] = (float)r.tare_sum[c] / TARE_CONVERSIONS;
    settings_save(&r.settings);
    send_event(RM_WIRE_EVENT_TARE_DONE, 0);
    r.tared = true;
}

static void stream(roller_sample *s)
{
    if (r.tared)
        s->flags |= RM_WIRE_FLAG_TARED;
    r.tared = false;
    r.batch[r.batched++] = *s;
    if (r.batched >= batch_size())
        send_batch();
}

/* A tare measures its zero from the samples as they stream on (raw
 * counts: the zero changes none of them); the first sample after the last
 * one averaged is flagged TARED. */
static void on_sample(roller_sample *s)
{
    s->flags = force_flags(s);
    if (r.button_down || r.mark_pending)
        s->flags |= RM_WIRE_FLAG_MARK;
    r.mark_pending = false;
    if (r.streaming)
        stream(s);
    if (r.tare_left)
        add_to_tare(s);
}

/* Reads each chip once its conversion is ready; a sample is complete when
 * both have been read. Its time and encoder count are those of the first
 * conversion read. */
static void poll_adc(void)
{
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++) {
        if ((r.chips_read & (1u << c)) || !hx711_ready(c))
            continue;
        if (!r.chips_read) {
            r.pending.t_us = clock_us();
            r.pending.encoder = encoder_count();
        }
        r.pending.counts[c] = hx711_read(c);
        r.last_read_us[c] = clock_us();
        r.chips_read |= (uint8_t)(1u << c);
    }
    if (r.chips_read != BOTH_CHIPS)
        return;
    r.chips_read = 0;
    if (r.settling)
        r.settling--;
    else
        on_sample(&r.pending);
}

/* ------------------------------------------------------------------------ */
/* Button, status, LED                                                      */
/* ------------------------------------------------------------------------ */

static bool button_level_pressed(void)
{
    return !(BOARD_BUTTON_PIN & _BV(BOARD_BUTTON_BIT));
}

static void poll_button(uint32_t now)
{
    bool raw = button_level_pressed();
    if (raw != r.button_raw) {
        r.button_raw = raw;
        r.button_changed_us = now;
        return;
    }
    if (raw == r.button_down || now - r.button_changed_us < DEBOUNCE_US)
        return;
    r.button_down = raw;
    if (raw)
        r.mark_pending = true; /* a press shorter than a sample still marks one */
    send_event(RM_WIRE_EVENT_BUTTON, raw);
}

static bool adc_silent(uint32_t now)
{
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++)
        if (now - r.last_read_us[c] > FAULT_AFTER_US)
            return true;
    return false;
}

static void poll_health(uint32_t now)
{
    bool fault = adc_silent(now);
    if (fault && now - r.last_fault_us >= STATUS_PERIOD_US) {
        r.last_fault_us = now;
        send_error(ERROR_ADC_SILENT, "a load cell ADC (HX711) does not answer");
    }
    if (r.streaming && now - r.last_status_us >= STATUS_PERIOD_US) {
        r.last_status_us = now;
        send_status();
    }
    uint32_t blink = fault ? BLINK_FAULT_US : BLINK_IDLE_US;
    if (r.streaming && !fault) {
        BOARD_LED_PORT |= _BV(BOARD_LED_BIT);
    } else if (now - r.last_blink_us >= blink) {
        r.last_blink_us = now;
        BOARD_LED_PORT ^= _BV(BOARD_LED_BIT);
    }
}

/* ------------------------------------------------------------------------ */
/* Main loop                                                                */
/* ------------------------------------------------------------------------ */

static bool conversion_unread(void)
{
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++)
        if (!(r.chips_read & (1u << c)) && hx711_ready(c))
            return true;
    return false;
}

/* Set by the pin-change interrupts: an HX711's DOUT or the button moved. */
static volatile bool pins_changed;

/* Sleeps until the loop has work: a conversion not yet read, a command
 * byte, the button, or the clock's overflow (the timed polls: debounce,
 * STATUS, LED, a silent HX711, the watchdog). Every interrupt wakes the
 * CPU, but one that brings no work (a byte sent: about 22 a sample at
 * 80/s; an encoder edge) sends it back to sleep without a turn of the
 * loop. What is checked with interrupts off is kept short: an edge waits
 * for it, and two edges in one wait lose a count. */
static void sleep_until_work(void)
{
    for (;;) {
        pins_changed = false;
        if (conversion_unread())
            return;
        cli();
        if (pins_changed || uart_has_input() ||
            button_level_pressed() != r.button_raw || clock_overflowed())
            break;
        sleep_enable();
        sei();
        sleep_cpu();
        sleep_disable();
        sei();
    }
    sei();
}

static void boot(void)
{
    BOARD_LED_DDR |= _BV(BOARD_LED_BIT);
    BOARD_BUTTON_PORT |= _BV(BOARD_BUTTON_BIT); /* pull-up */
    PCMSK2 |= _BV(PCINT20);                     /* the button wakes the loop */
    PCICR |= _BV(PCIE2);
    clock_init();
    uart_init();
    hx711_init();
    encoder_init();
    settings_load(&r.settings);
    apply_rate();
    set_sleep_mode(SLEEP_MODE_IDLE);
    wdt_enable(WDTO_250MS);
    sei();
    uint32_t now = clock_us();
    for (uint8_t c = 0; c < ROLLER_CHANNELS; c++)
        r.last_read_us[c] = now;
    static const uint8_t end_of_noise = 0x00;
    uart_send(&end_of_noise, 1);
    send_event(RM_WIRE_EVENT_RESET, 0);
    send_info();
}

ISR(PCINT1_vect)
{
    pins_changed = true;
}

ISR(PCINT2_vect, ISR_ALIASOF(PCINT1_vect));

int main(void)
{
    boot();
    for (;;) {
        wdt_reset();
        poll_commands();
        poll_adc();
        settings_poll();
        uint32_t now = clock_us();
        poll_button(now);
        poll_health(now);
        sleep_until_work();
    }
}
