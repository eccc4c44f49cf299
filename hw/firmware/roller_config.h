/* What the firmware says about the roller it is built into: its geometry
 * and sensors. Each value can be set at build time
 * (cmake -DROLLER_CPR=1200 ... -> -D definitions); docs/BUILD-A-ROLLER.md
 * says how to measure them. Portable: also compiled on the host by the
 * tests and the emulated bench. */
#ifndef ROLLER_CONFIG_H
#define ROLLER_CONFIG_H

#define ROLLER_MODEL "rollmap DIY roller"
#define ROLLER_FIRMWARE_VERSION "1.0.0"

#ifndef ROLLER_SERIAL
#define ROLLER_SERIAL "RMDIY-0001"
#endif
/* Encoder counts per roller turn: a 600-pulse quadrature encoder on the
 * axle, decoded x4. */
#ifndef ROLLER_CPR
#define ROLLER_CPR 2400
#endif
/* The foam's outer diameter and the roller's length, mm. */
#ifndef ROLLER_DIAMETER_MM
#define ROLLER_DIAMETER_MM 150.0f
#endif
#ifndef ROLLER_WIDTH_MM
#define ROLLER_WIDTH_MM 330.0f
#endif
/* +1 when turning the encoder forward moves the contact point toward the
 * knee (docs/PROTOCOL.md, "Channel geometry"). */
#ifndef ROLLER_DISTAL_DIRECTION
#define ROLLER_DISTAL_DIRECTION 1
#endif
/* Newtons per HX711 count before calibration: a 50 kg (490 N), 1 mV/V
 * load cell at the module's 4.3 V excitation gives 4.3 mV at full load;
 * the HX711 at gain 128 spans +-19.5 mV over +-2^23 counts, so 490 N is
 * about 1.85e6 counts (as docs/profiles/hx711-arduino.ini). `rollmap
 * calibrate` replaces it with a measured figure. */
#ifndef ROLLER_GAIN_N_PER_COUNT
#define ROLLER_GAIN_N_PER_COUNT 2.65e-4f
#endif
/* Force through one end cap above which a sample is flagged OVERLOAD: the
 * load cell's rated load. */
#ifndef ROLLER_RATED_N
#define ROLLER_RATED_N 490.0f
#endif

/* Two HX711 load cells, one in each end cap: left (0 mm) and right. */
#define ROLLER_CHANNELS 2
/* The HX711's RATE pin picks 10 or 80 conversions per second. */
#define ROLLER_RATE_SLOW_HZ 10u
#define ROLLER_RATE_FAST_HZ 80u
/* What an ERROR says when SET_RATE asks for another rate; the host shows
 * it with the refusal. */
#define ROLLER_RATES_TEXT "rates: 10 and 80 a second"

#endif
