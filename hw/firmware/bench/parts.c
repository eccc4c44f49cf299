/* The emulated parts on the AVR's pins (bench.h). */
#include "bench.h"
#include "board.h"

#include <simavr/avr_ioport.h>
#include <simavr/sim_time.h>

#define HX711_BITS 24
#define HX711_GAIN_128_PULSES 25
#define HX711_POWER_DOWN_US 60 /* PD_SCK high longer than this powers down */
#define HX711_MAX ((1L << 23) - 1)
#define HX711_MIN (-(1L << 23))
#define NEVER UINT64_MAX
#define WAKE_CYCLES 4

static avr_irq_t *pin(avr_t *avr, char port, int bit)
{
    return avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(port), bit);
}

static void pin_attach(bench_pin *p, avr_t *avr, char port, uint8_t bit,
                       uint8_t level)
{
    *p = (bench_pin){avr, port, bit, pin(avr, port, (int)bit), level};
}

/* Counts drive() calls: see bench_parts_advance. */
static uint64_t pins_driven;

/* Drives an input pin. simavr turns every write to the pin's port into the
 * pull-up's level on its input pins unless the pin's level is declared
 * external, so the level is declared there as well as raised. */
static void drive(bench_pin *p, uint8_t level)
{
    static uint8_t masks['Z'], values['Z'];
    uint8_t bit = (uint8_t)(1u << p->bit);
    masks[(int)p->port] |= bit;
    values[(int)p->port] = level ? values[(int)p->port] | bit
                                 : values[(int)p->port] & (uint8_t)~bit;
    avr_ioport_external_t ext = {.name = (unsigned long)p->port,
                                 .mask = masks[(int)p->port],
                                 .value = values[(int)p->port]};
    avr_ioctl(p->avr, AVR_IOCTL_IOPORT_SET_EXTERNAL(p->port), &ext);
    p->level = level;
    avr_raise_irq(p->irq, level);
    pins_driven++;
}

static uint64_t conversion_cycles(const bench_parts *p, const bench_hx711 *hx)
{
    double rate = p->rate_fast ? 80.0 : 10.0;
    return (uint64_t)(p->avr->frequency / rate * hx->period_scale);
}

static uint32_t to_24_bits(int32_t counts)
{
    if (counts > HX711_MAX)
        counts = HX711_MAX;
    if (counts < HX711_MIN)
        counts = HX711_MIN;
    return (uint32_t)counts & 0xFFFFFFu;
}

/* A conversion finished: the result is latched and DOUT goes low. A result
 * never read is overwritten, as in the chip. */
static void convert(bench_hx711 *hx)
{
    if (hx->pulses != 0 && hx->pulses < HX711_GAIN_128_PULSES)
        return; /* being read: the chip finishes the read first */
    hx->overwritten += hx->ready;
    hx->conversions++;
    hx->latched = to_24_bits(hx->input);
    hx->pulses = 0;
    hx->ready = true;
    drive(&hx->dout, 0);
}

static void sck_rising(bench_hx711 *hx, uint64_t now)
{
    hx->sck_rose_at = now;
    if (!hx->ready && hx->pulses == 0)
        return; /* no result waiting: the pulse shifts nothing */
    hx->pulses++;
    if (hx->pulses <= HX711_BITS) {
        drive(&hx->dout, (hx->latched >> (HX711_BITS - hx->pulses)) & 1);
        return;
    }
    if (hx->pulses == HX711_GAIN_128_PULSES) {
        hx->reads++;
        hx->ready = false;
    } else {
        hx->wrong_gain++; /* 26 or 27 pulses: channel B or gain 64 */
    }
    drive(&hx->dout, 1);
}

/* PD_SCK low again after a power-down resets the chip: a read cut short
 * is forgotten, and the first conversion comes a period later. */
static void sck_falling(const bench_parts *p, bench_hx711 *hx, uint64_t now)
{
    if (avr_cycles_to_usec(p->avr, now - hx->sck_rose_at) <= HX711_POWER_DOWN_US)
        return;
    hx->power_downs++;
    hx->pulses = 0;
    hx->ready = false;
    drive(&hx->dout, 1);
    hx->next_conversion = now + conversion_cycles(p, hx);
}

typedef struct sck_hook {
    bench_parts *parts;
    int chip;
} sck_hook;

static void on_sck(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    sck_hook *h = param;
    bench_hx711 *hx = &h->parts->hx[h->chip];
    bool high = value != 0;
    if (high == hx->sck_high)
        return;
    hx->sck_high = high;
    uint64_t now = h->parts->avr->cycle;
    if (high)
        sck_rising(hx, now);
    else
        sck_falling(h->parts, hx, now);
}

static void on_rate(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    bench_parts *p = param;
    p->rate_fast = value != 0;
}

void bench_parts_attach(bench_parts *p, avr_t *avr)
{
    static sck_hook hooks[2];
    static const int dout_bits[2] = {BOARD_HX_DOUT0_BIT, BOARD_HX_DOUT1_BIT};
    static const int sck_bits[2] = {BOARD_HX_SCK0_BIT, BOARD_HX_SCK1_BIT};
    /* The two chips' oscillators differ a little, as real ones do. */
    static const double period_scale[2] = {1.0, 1.0025};
    p->avr = avr;
    for (int c = 0; c < 2; c++) {
        bench_hx711 *hx = &p->hx[c];
        pin_attach(&hx->dout, avr, 'C', (uint8_t)dout_bits[c], 1);
        hx->period_scale = period_scale[c];
        hx->next_conversion = conversion_cycles(p, hx);
        hooks[c] = (sck_hook){p, c};
        avr_irq_register_notify(pin(avr, 'C', sck_bits[c]), on_sck, &hooks[c]);
    }
    avr_irq_register_notify(pin(avr, 'C', BOARD_HX_RATE_BIT), on_rate, p);
    pin_attach(&p->enc.a, avr, 'D', BOARD_ENC_A_BIT, 0);
    pin_attach(&p->enc.b, avr, 'D', BOARD_ENC_B_BIT, 0);
    p->enc.next_edge = NEVER;
    pin_attach(&p->button, avr, 'D', BOARD_BUTTON_BIT, 1); /* released */
    bench_parts_redrive(p);
}

/* Gray code of the encoder's position: 00 01 11 10. */
static void drive_encoder(bench_encoder *e)
{
    static const uint8_t gray[4] = {0, 1, 3, 2};
    uint8_t state = gray[e->position & 3];
    drive(&e->a, state >> 1);
    drive(&e->b, state & 1);
}

void bench_parts_redrive(bench_parts *p)
{
    for (int c = 0; c < 2; c++)
        drive(&p->hx[c].dout, p->hx[c].dout.level);
    drive_encoder(&p->enc);
    drive(&p->button, p->button.level);
}

void bench_parts_press(bench_parts *p, bool pressed)
{
    drive(&p->button, !pressed); /* the button pulls the pin low */
}

void bench_encoder_move(bench_parts *p, int64_t target, uint64_t interval)
{
    bench_encoder *e = &p->enc;
    e->target = target;
    e->interval = interval ? interval : 1;
    if (e->next_edge == NEVER && e->target != e->position)
        e->next_edge = p->avr->cycle + e->interval;
}

static void step_encoder(bench_encoder *e, uint64_t now)
{
    while (e->next_edge <= now) {
        e->position += e->target > e->position ? 1 : -1;
        drive_encoder(e);
        e->next_edge = e->target == e->position ? NEVER : e->next_edge + e->interval;
    }
}

uint64_t bench_parts_advance(bench_parts *p, uint64_t now)
{
    uint64_t driven_before = pins_driven;
    uint64_t next = NEVER;
    for (int c = 0; c < 2; c++) {
        bench_hx711 *hx = &p->hx[c];
        while (hx->next_conversion <= now) {
            convert(hx);
            hx->next_conversion += conversion_cycles(p, hx);
        }
        if (hx->next_conversion < next)
            next = hx->next_conversion;
    }
    step_encoder(&p->enc, now);
    if (p->enc.next_edge < next)
        next = p->enc.next_edge;
    /* simavr lets a sleeping AVR sleep on to the next cycle timer before it
     * serves an interrupt raised by a timer: a pin just driven must wake it
     * now, as on the chip, so the bench asks to be called again at once. */
    if (pins_driven != driven_before && now + WAKE_CYCLES < next)
        next = now + WAKE_CYCLES;
    return next;
}
