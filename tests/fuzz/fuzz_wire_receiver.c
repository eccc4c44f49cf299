/* libFuzzer target for the firmware's command receiver (hw/wire/,
 * rm_wire_receive): any byte stream, a buffer as small as the firmware's.
 * Besides crashes it checks that every body it returns is at least a
 * header long, fits the buffer and carries a right CRC-32C after it. */
#include "rollmap_hw.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The firmware's buffer: the longest command (SET_RATE) and its CRC. */
#define FIRMWARE_BUFFER (RM_WIRE_HEADER_SIZE + RM_WIRE_SET_RATE_SIZE + RM_WIRE_CRC_SIZE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t buf[FIRMWARE_BUFFER];
    rm_wire_receiver r;
    rm_wire_receiver_init(&r, buf, sizeof buf);
    for (size_t i = 0; i < size; i++) {
        size_t body = rm_wire_receive(&r, data[i]);
        if (body == 0)
            continue;
        if (body < RM_WIRE_HEADER_SIZE || body + RM_WIRE_CRC_SIZE > sizeof buf)
            abort();
        if (rm_crc32c(0, buf, body) != rm_wire_get_u32(buf + body))
            abort(); /* accepted a frame whose CRC is wrong */
    }
    return 0;
}
