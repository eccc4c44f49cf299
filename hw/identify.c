/*
 * The link to a binary-protocol device: a transport with its receive
 * buffer and frame decoder, the commands sent down it, and the identify
 * handshake (docs/DEVICES.md). Port probing (ports.c) and sources
 * (source.c) both build on it; it depends on neither.
 */
#include "source_internal.h"

#include <stdio.h>
#include <string.h>

/** Identify handshake (docs/DEVICES.md): answer within 500 ms, 3 tries. */
#define IDENTIFY_TIMEOUT_MS 500
#define IDENTIFY_TRIES 3

void hw_link_reset(rm_link *link)
{
    link->rx_pos = link->rx_len = 0;
    rm_decoder_init(&link->decoder);
}

rm_status hw_link_send(rm_link *link, rm_frame_type cmd, uint32_t arg,
                       rm_error *err)
{
    if (!link->ops->write)
        return rm_error_set(err, RM_ERR_UNSUPPORTED,
                            "%s: this source takes no commands", link->where);
    rm_frame f;
    memset(&f, 0, sizeof f);
    f.type = (uint8_t)cmd;
    f.seq = link->tx_seq++;
    f.u.rate_hz = arg;
    uint8_t wire[RM_FRAME_MAX_WIRE];
    size_t n = rm_frame_encode(&f, wire, sizeof wire);
    if (n == 0)
        return rm_error_set(err, RM_ERR_ARG, "cannot encode command %s",
                            rm_frame_type_name(cmd));
    return link->ops->write(link->io, wire, n, err);
}

rm_status hw_link_fill(rm_link *link, size_t *got, rm_error *err)
{
    *got = link->rx_len - link->rx_pos;
    if (*got)
        return RM_OK;
    link->rx_pos = link->rx_len = 0;
    rm_status st = link->ops->read(link->io, link->rx, sizeof link->rx, got,
                                   err);
    if (st == RM_OK)
        link->rx_len = *got;
    if (st == RM_OK && *got)
        link->rx_mono_us = rm_monotonic_us();
    return st;
}

bool hw_link_decode(rm_link *link, rm_frame *frame)
{
    bool have = false;
    while (!have && link->rx_pos < link->rx_len)
        link->rx_pos += rm_decoder_push(&link->decoder,
                                        link->rx + link->rx_pos,
                                        link->rx_len - link->rx_pos, frame,
                                        &have);
    return have;
}

static uint64_t deadline_left_ms(uint64_t deadline_us)
{
    uint64_t now = rm_monotonic_us();
    return now >= deadline_us ? 0 : (deadline_us - now + 999) / 1000;
}

/** Looks at each frame while awaiting an answer; true: it is the one. */
typedef bool (*answer_fn)(const rm_frame *frame, void *answer);

/** Wait until `is_answer` takes a frame or the deadline passes; frames it
 *  does not take are dropped. */
static rm_status await_answer(rm_link *link, uint64_t deadline_us,
                              answer_fn is_answer, void *answer, rm_error *err)
{
    rm_frame frame;
    for (;;) {
        size_t got;
        rm_status st = hw_link_fill(link, &got, err);
        if (st != RM_OK)
            return st;
        while (hw_link_decode(link, &frame))
            if (is_answer(&frame, answer))
                return RM_OK;
        uint64_t left = deadline_left_ms(deadline_us);
        if (left == 0)
            return RM_ERR_TIMEOUT;
        st = link->ops->wait(link->io, (int)left, err);
        if (st != RM_OK && st != RM_ERR_TIMEOUT)
            return st;
    }
}

static bool info_answer(const rm_frame *frame, void *answer)
{
    if (frame->type != RM_FRAME_INFO)
        return false;
    *(rm_device_info *)answer = frame->u.info;
    return true;
}

static uint64_t answer_deadline(void)
{
    return rm_monotonic_us() + (uint64_t)IDENTIFY_TIMEOUT_MS * 1000u;
}

rm_status hw_link_identify(rm_link *link, rm_device_info *info,
                           rm_error *err)
{
    for (int attempt = 0; attempt < IDENTIFY_TRIES; attempt++) {
        rm_status st = hw_link_send(link, RM_CMD_IDENTIFY, 0, err);
        if (st != RM_OK)
            return st;
        st = await_answer(link, answer_deadline(), info_answer, info, err);
        if (st != RM_ERR_TIMEOUT)
            return st;
    }
    return rm_error_set(err, RM_ERR_TIMEOUT,
                        "%s: no answer to identify (%d tries, %d ms each); "
                        "is it a rollmap device? Text-mode devices need "
                        "?profile=PATH", link->where, IDENTIFY_TRIES,
                        IDENTIFY_TIMEOUT_MS);
}

/** What a device said to SET_RATE: its ACK, and an ERROR before it. */
typedef struct rate_answer {
    int16_t result;
    char why[sizeof ((rm_frame_status *)0)->text];
} rate_answer;

static bool rate_ack(const rm_frame *frame, void *answer)
{
    rate_answer *a = answer;
    if (frame->type == RM_FRAME_ERROR)
        snprintf(a->why, sizeof a->why, "%s", frame->u.status.text);
    if (frame->type != RM_FRAME_ACK ||
        frame->u.ack.acked_type != RM_CMD_SET_RATE)
        return false;
    a->result = frame->u.ack.result;
    return true;
}

rm_status hw_link_set_rate(rm_link *link, uint32_t rate_hz, rm_error *err)
{
    rate_answer a = {0};
    rm_status st = hw_link_send(link, RM_CMD_SET_RATE, rate_hz, err);
    if (st == RM_OK)
        st = await_answer(link, answer_deadline(), rate_ack, &a, err);
    if (st == RM_ERR_TIMEOUT)
        return rm_error_set(err, RM_ERR_TIMEOUT, "%s: no answer to SET_RATE "
                            "%u Hz within %d ms", link->where, rate_hz,
                            IDENTIFY_TIMEOUT_MS);
    if (st != RM_OK || a.result == 0)
        return st;
    return rm_error_set(err, RM_ERR_UNSUPPORTED,
                        "%s: the device refused %u samples a second (%s)",
                        link->where, rate_hz,
                        a.why[0] ? a.why
                                 : "it did not say which rates it supports");
}
