// The series' buckets on a time axis. The API names each bucket by its operator-local start
// (`2026-11-30`, `2026-11-30T08:00`; weeks start on Monday) and answers only buckets with
// something recorded. The charts put each name at that wall-clock time read as UTC (and
// label the axis in UTC), so the axis shows the operator's days whatever the browser's
// zone; the empty buckets of the period are filled in, so that a quiet day reads as zero.

const HOUR_S = 3600;
const DAY_S = 86400;

export function bucketSeconds(name) {
  const [day, time = "00:00"] = name.split("T");
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  return Date.UTC(y, m - 1, d, hh, mm) / 1000;
}

function bucketName(seconds, bucket) {
  const iso = new Date(seconds * 1000).toISOString();
  return bucket === "hour" ? iso.slice(0, 16) : iso.slice(0, 10);
}

// Every bucket name from the period's first day to its last, in order.
export function allBuckets(bucket, fromDay, toDay) {
  let at = bucketSeconds(fromDay);
  const end = bucketSeconds(toDay) + DAY_S;
  if (bucket === "week") {
    const weekday = (new Date(at * 1000).getUTCDay() + 6) % 7; // Monday: 0
    at -= weekday * DAY_S;
  }
  const step = { hour: HOUR_S, day: DAY_S, week: 7 * DAY_S }[bucket];
  const names = [];
  for (; at < end && names.length < 5000; at += step) names.push(bucketName(at, bucket));
  return names;
}

// Columns for uPlot: [x (s), ...one array per `pick`], a row per bucket of the period.
export function columns(answer, picks) {
  const byName = new Map(answer.rows.map((row) => [row.bucket, row]));
  const names = allBuckets(answer.bucket, answer.from, answer.to);
  for (const name of byName.keys()) if (!names.includes(name)) names.push(name);
  names.sort();
  const x = names.map(bucketSeconds);
  const data = picks.map((pick) => names.map((name) => pick(byName.get(name))));
  return [x, ...data];
}
