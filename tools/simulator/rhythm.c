/* rhythm.c — when people work: hours of the day and days of the week in a tenant's time zone.
 *
 * The shape is an office day (ramp up at 8, lunch dip at noon, tail into the evening, a trickle
 * at night); weekends run at a fifth of a weekday. There is no daylight-saving time: offsets
 * are fixed, which moves activity by at most an hour and keeps the ground truth simple. */
#include "sim_internal.h"

static const double hour_shape[24] = {
    0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.15, /* 00-07 */
    0.60, 1.00, 1.00, 0.95, 0.55, 0.85, 1.00, 0.95, /* 08-15 */
    0.85, 0.60, 0.35, 0.20, 0.15, 0.12, 0.08, 0.04, /* 16-23 */
};
#define SIM_WEEKEND_FACTOR 0.2

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static double shape_sum(void)
{
    static double sum;
    if (sum == 0) {
        double s = 0;
        for (int i = 0; i < 24; i++)
            s += hour_shape[i];
        sum = s;
    }
    return sum;
}

/* Share of a weekday's sessions that fall in the hour containing `at` (local time). */
double sim_rhythm_hour_weight(int tz_min, int64_t at)
{
    int64_t local = at + (int64_t)tz_min * 60000;
    int64_t day = floor_div(local, SIM_MS_DAY);
    int hour = (int)((local - day * SIM_MS_DAY) / SIM_MS_HOUR);
    int wday = (int)((day % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    double w = hour_shape[hour] / shape_sum();
    if (wday == 0 || wday == 6)
        w *= SIM_WEEKEND_FACTOR;
    return w;
}

/* A time within [day_start, day_start + 1 day) that is office hours (09-18) locally: admin actions (adding users, plan changes) happen while someone is at a desk. */
int64_t sim_rhythm_work_time(int tz_min, int64_t day_start, sim_rng *r)
{
    int64_t local_ms = 9 * SIM_MS_HOUR + (int64_t)sim_rng_below(r, (uint64_t)(9 * SIM_MS_HOUR));
    int64_t off = local_ms - (int64_t)tz_min * 60000;
    off %= SIM_MS_DAY;
    if (off < 0)
        off += SIM_MS_DAY;
    /* Relative to UTC midnight, so a --start with a time of day still lands in office hours. */
    int64_t t = floor_div(day_start, SIM_MS_DAY) * SIM_MS_DAY + off;
    if (t < day_start)
        t += SIM_MS_DAY;
    return t;
}
