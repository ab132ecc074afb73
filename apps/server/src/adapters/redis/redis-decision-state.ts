import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { checkCommit } from '../../cluster/commit-checks.ts';
import type {
  CommitResult,
  DecisionCommit,
  DecisionStateLoad,
  DecisionStateStore,
  PendingMessage,
  SeriesChange,
  SeriesOp,
  VersionedAccount,
} from '../../cluster/ports.ts';
import type { Clock } from '../../core/clock.ts';
import type { AccountState } from '../../risk/domain/state.ts';
import type { SeriesSnapshot } from '../../risk/domain/velocity.ts';
import type { PriorOutcome } from '../../storage/ports.ts';

/*
 * Key layout (docs/scaling.md). `{…}` is a Redis Cluster hash tag: only the part inside the braces
 * picks the slot.
 *
 *   ${prefix}:acct:{accountId}          hash   s = AccountState JSON, v = version,     PXAT x: accountTtlMs
 *                                              x = when the key expires                (see TTLs below)
 *   ${prefix}:window:{key}              string a 128-byte header, then the entries    PXAT x: retentionMs + margin
 *   ${prefix}:outcome:{eventId}         string PriorOutcome JSON                       PX outcomeTtlMs
 *   ${prefix}:pending:{spool}           zset   eventId scored by commit time (ms)      no TTL
 *   ${prefix}:pending:{spool}:messages  hash   eventId → serialized ClusterMessage     no TTL
 *
 * A series is one string. Its header, `n,h,e,a,z,k,d,x` padded with spaces to 128 bytes, holds
 * what the script tracks: the entry count, the positions of the first entry's `[` and the last
 * one's `]`, the oldest and newest times, `1` once labelled, droppedUpToMs and when the key
 * expires. Then come the entries: the inside of a JSON array of `[t,v]` and `[t,v,"label"]`,
 * oldest first, maybe with spaces where entries were taken off either end. A load reads it with a
 * plain GET and the node parses it with one JSON.parse, whatever its length. The commit script
 * changes a series near its newest entries, where nearly every change lands, and blanks entries
 * trimmed at its head, parsing only the entries it looks at. A small series (under
 * `seriesRewriteBelowBytes`, e.g. the global counts) is read in one GETRANGE, changed in a Lua
 * copy and written back with one SET; a larger one is changed in place (GETRANGE, SETRANGE), so a
 * commit costs about the same for 20 entries as for 2,000.
 * Numbers are written in JavaScript's shortest round-trip form, so they are exact: the script only
 * compares numbers it parsed (strtod) and formats the one number it computes, a bucket's new sum,
 * with 17 significant digits, which reads back as the same double. Labels escape `[` and `]`, so
 * the script finds entries by their brackets without parsing JSON strings. No cjson is involved
 * anywhere (it rounds numbers to 14 digits and cannot tell an empty array from an empty object).
 * Measured alternatives: a Redis list of entries made commits as cheap but a load of 2,000
 * entries cost about 0.5 ms of Redis time (against 0.02 ms); one JSON string rewritten whole by
 * every commit cost about 0.2 ms per commit of a 2,000-entry series (against 0.04 ms). Until
 * issue #10's measurements a series was two keys (entries, and a meta hash) changed by about
 * eight calls per commit, every op re-read its entries and every commit set every expiry: the
 * layout here costs about a third less Redis CPU per decision of login traffic (a third fewer
 * instructions; bench/decision-state.ts).
 *
 * TTLs: a key's expiry is kept in the key (x, Redis' clock, from TIME) and set again (PEXPIREAT)
 * only once it is due sooner than its full TTL less an allowance: half the series margin for
 * series, a day for accounts. So a series outlives its retention by at least half the margin
 * after its last write, an account lives at least accountTtlMs less a day after its last write,
 * and most commits set no expiry at all. Outcomes are written once, with their TTL.
 *
 * Atomicity: the script checks everything before its first write, so a conflict or a Redis out of
 * memory (refused at the first write) leaves nothing behind. Only a script error after writes
 * began (a bug, or a series string edited by hand) could leave a commit half-applied.
 *
 * Redis Cluster: one script may only touch keys of one slot, and each account, series, event id
 * and the spool carry their own hash tag. This adapter therefore needs a single Redis (or a
 * primary with replicas). A clustered deployment would have to commit per hash tag, giving up
 * the atomicity of a whole batch (or tag every key of a batch alike, e.g. by account shard);
 * that is not built.
 */

/**
 * Applies a commit atomically: checks every account version and event id first and writes
 * nothing on any conflict; otherwise writes states (version + 1), replays series ops exactly as
 * WindowSeries does (trimming after each record and bucket op), sets outcomes and spools the
 * pending messages.
 * KEYS: nA account hashes, nO outcome strings, nS series strings, the spool zset and hash.
 * ARGV: commitMs, nA, nO, nS, nP, accountTtlMs, outcomeTtlMs, seriesTtlMarginMs,
 * accountRefreshMs, seriesRefreshMs, seriesRewriteBelowBytes; then per account (accountId,
 * expectedVersion, state JSON); per outcome (eventId, JSON); per pending message (eventId,
 * message); per series (retentionMs, entriesMax, opCount, then per op: code r|b|x (or b and a
 * count: that bucket op count times), t, v, label JSON or '' for none).
 * Returns {1} or {0, conflicted account ids, decided event ids}.
 */
const commitScript = `
local commitMs = ARGV[1]
local accountCount, outcomeCount = tonumber(ARGV[2]), tonumber(ARGV[3])
local seriesCount, pendingCount = tonumber(ARGV[4]), tonumber(ARGV[5])
local accountTtl, outcomeTtl, seriesMargin = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local accountRefresh, seriesRefresh = tonumber(ARGV[9]), tonumber(ARGV[10])
local rewriteBelow = tonumber(ARGV[11])
local accountArg, outcomeArg = 11, 11 + 3 * accountCount
local pendingArg = outcomeArg + 2 * outcomeCount
local seriesArg = pendingArg + 2 * pendingCount
local outcomeKey, seriesKey = accountCount, accountCount + outcomeCount
local spool, spoolMessages = KEYS[seriesKey + seriesCount + 1], KEYS[seriesKey + seriesCount + 2]

local function integer(value)
  return string.format('%d', value)
end

-- The number a text holds. tonumber() runs strtod twice, slow on 13-digit times, and a commit
-- reads the same few texts (this week's bucket, '1', the limits) many times: each is converted
-- once (by arithmetic, which converts as tonumber does).
local numbers = {}
local function num(text)
  local value = numbers[text]
  if value == nil then
    value = text * 1
    numbers[text] = value
  end
  return value
end

-- Expiry times are Redis' own (TIME), kept in field x of account hashes and series headers: a
-- key's TTL is set again only once less than its full TTL minus the refresh allowance is left.
local clock = redis.call('TIME')
local nowMs = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local conflicted, decided, accountExpiry = {}, {}, {}
for i = 1, accountCount do
  local stored = redis.call('HMGET', KEYS[i], 'v', 'x')
  accountExpiry[i] = tonumber(stored[2] or '0')
  if tonumber(stored[1] or '0') ~= tonumber(ARGV[accountArg + 3 * i - 1]) then conflicted[#conflicted + 1] = ARGV[accountArg + 3 * i - 2] end
end
for i = 1, outcomeCount do
  if redis.call('EXISTS', KEYS[outcomeKey + i]) == 1 then decided[#decided + 1] = ARGV[outcomeArg + 2 * i - 1] end
end
if #conflicted > 0 or #decided > 0 then return {0, conflicted, decided} end

for i = 1, accountCount do
  local key = KEYS[i]
  local version = integer(tonumber(ARGV[accountArg + 3 * i - 1]) + 1)
  if accountExpiry[i] < nowMs + accountTtl - accountRefresh then
    local at = nowMs + accountTtl
    redis.call('HSET', key, 's', ARGV[accountArg + 3 * i], 'v', version, 'x', integer(at))
    redis.call('PEXPIREAT', key, integer(at))
  else
    redis.call('HSET', key, 's', ARGV[accountArg + 3 * i], 'v', version)
  end
end
for i = 1, outcomeCount do
  redis.call('SET', KEYS[outcomeKey + i], ARGV[outcomeArg + 2 * i], 'PX', outcomeTtl)
end
for from = 1, pendingCount, 500 do
  local scored, messages = {}, {}
  for i = from, math.min(from + 499, pendingCount) do
    local eventId = ARGV[pendingArg + 2 * i - 1]
    scored[#scored + 1] = commitMs
    scored[#scored + 1] = eventId
    messages[#messages + 1] = eventId
    messages[#messages + 1] = ARGV[pendingArg + 2 * i]
  end
  redis.call('ZADD', spool, unpack(scored))
  redis.call('HSET', spoolMessages, unpack(messages))
end

-- A series is one string: a header of W bytes, then the inside of a JSON array of '[t,v]' and
-- '[t,v,"label"]' (labels escape '[' and ']', so '[' always starts an entry and ']' ends it),
-- oldest first, maybe between spaces where entries were taken off either end. The header is
-- 'n,h,e,a,z,k,d,x' padded with spaces: n = entries, h = position of the first one's '['
-- (1-based, in the whole string), e = position of the last one's ']', a and z = the oldest and
-- newest times, k = '1' once labelled, d = droppedUpToMs, x = when the key expires (ms, Redis'
-- clock).
--
-- Changes read and write small ranges near the newest entries (where nearly every change lands)
-- and the oldest (where trimming happens), and parse only the entries they look at: parsing all
-- 27 entries of a global count costs about 4 times as much Lua time as reading the newest. A
-- small series (fewer than rewriteBelow bytes of entries: the global counts, most failure series)
-- is read with its header in one GETRANGE, changed in a Lua copy and written back with one SET:
-- two calls whatever its ops. A larger one is changed in Redis (GETRANGE, SETRANGE), compacted
-- once the spaces outweigh the entries, and its header written over the first W bytes.
local W = 128
local headerPattern = '^(%d+),(%d+),(%d+),([^,]*),([^,]*),([01]),([^,]*),(%d*) '
local blank = string.rep(' ', W)
local function header(series, oldest, newest, expiry)
  local text = string.format('%d,%d,%d,%s,%s,%s,%s,%s', series.n, series.h, series.e, oldest or '',
    newest or '', series.labelled, series.droppedRaw or '', expiry)
  -- At most about 80 bytes (three counts, three 13-digit times, the expiry); W leaves room for
  -- any time JavaScript may write, and the pattern finds the end of the header by a space.
  if #text >= W then error('series ' .. series.key .. ': header of ' .. #text .. ' bytes') end
  return text .. string.sub(blank, #text + 1)
end

local function timeTextOf(entry)
  return string.match(entry, '^%[([^,]*),')
end
local function parse(entry)
  return string.match(entry, '^%[([^,]*),([^,%]]*),?([^%]]*)%]$')
end
local function number(value)
  return string.format('%.17g', value)
end

-- Where the entries are changed: in Redis (GETRANGE, SETRANGE, 0-based offsets) or, for a small
-- series, in a copy in Lua written back with one SET. The copy is the string as read (buf) up to
-- position cut, then rest: changes land near the end, so each copies only the bytes after it.
local function getrange(series, from, to)
  local buf, cut = series.buf, series.cut
  if not buf then return redis.call('GETRANGE', series.key, from, to) end
  from, to = from + 1, to + 1
  if from >= cut then return string.sub(series.rest, from - cut + 1, to - cut + 1) end
  if to < cut then return string.sub(buf, from, to) end
  return string.sub(buf, from, cut - 1) .. string.sub(series.rest, 1, to - cut + 1)
end
local function setrange(series, at, text)
  local buf = series.buf
  if not buf then return redis.call('SETRANGE', series.key, at, text) end
  at = at + 1
  if at < series.cut then
    series.rest = string.sub(buf, at, series.cut - 1) .. series.rest
    series.cut = at
  end
  local rest, offset = series.rest, at - series.cut
  series.rest = string.sub(rest, 1, offset) .. text .. string.sub(rest, offset + #text + 1)
  return series.cut - 1 + #series.rest
end
local function setAll(series, text)
  if not series.buf then return redis.call('SET', series.key, text, 'KEEPTTL') end
  series.buf, series.cut, series.rest = text, #text + 1, ''
end

local function reset(series)
  series.last = nil
  setAll(series, blank)
  series.n, series.h, series.e, series.len = 0, W + 1, W, W
  series.oldest, series.newest = nil, nil
end

-- The newest entries while keep(time) holds (at most limit), newest first, each
-- {at = position, text = entry, time = number}. Reads a window at the end, larger until it
-- holds them.
local function tail(series, keep, limit)
  if series.n == 0 then return {} end
  local size = 64
  while true do
    local from = math.max(series.e - size + 1, series.h)
    local text = getrange(series, from - 1, series.e - 1)
    -- The window may begin inside an entry: only entries whose '[' it holds are whole.
    -- (A plain find per entry: a gmatch over the window costs about 20 times as much.)
    local starts = {}
    local at = string.find(text, '[', 1, true)
    while at do
      starts[#starts + 1] = at
      at = string.find(text, '[', at + 1, true)
    end
    local out = {}
    for s = #starts, 1, -1 do
      local i = starts[s]
      local entry = string.sub(text, i, string.find(text, ']', i, true))
      local time = num(timeTextOf(entry))
      if #out == limit or not keep(time) then return out end
      out[#out + 1] = { at = from + i - 1, text = entry, time = time }
    end
    if from == series.h then return out end
    size = size * 8
  end
end
local function always() return true end

-- The times of the first and last entries, read when a change made them unknown. Each text is
-- converted once (strtod of a 13-digit time costs as much as a Redis call's overhead).
local function oldestOf(series)
  if series.oldest == nil then
    series.oldest = timeTextOf(getrange(series, series.h - 1, series.h + 62))
  end
  if series.oldestText ~= series.oldest then
    series.oldestText, series.oldestTime = series.oldest, num(series.oldest)
  end
  return series.oldestTime
end
local function newestOf(series)
  if series.newest == nil then series.newest = timeTextOf(tail(series, always, 1)[1].text) end
  if series.newestText ~= series.newest then
    series.newestText, series.newestTime = series.newest, num(series.newest)
  end
  return series.newestTime
end

-- Writes entries (joined by ',') in place of the entries from position at (an entry's start)
-- to the last, padding with spaces when shorter.
local function rewriteFrom(series, at, entries)
  local content = table.concat(entries, ',')
  if at == series.h then series.oldest = nil end
  -- With nothing to write after an earlier entry, its ',' goes too.
  if content == '' and at > series.h then at = at - 1 end
  local written = content
  local pad = series.e - at + 1 - #content
  if pad > 0 then written = content .. string.rep(' ', pad) end
  series.len = setrange(series, at - 1, written)
  series.e = at - 1 + #content
end

-- After the last entry, over the spaces left there if any.
local function append(series, entry, tRaw)
  if series.n == 0 then
    -- Whatever followed the header goes; the header is written at the end.
    local text = blank .. entry
    setAll(series, text)
    series.h, series.e, series.len = W + 1, #text, #text
    series.oldest = tRaw
  else
    local piece = ',' .. entry
    series.len = setrange(series, series.e, piece)
    series.e = series.e + #piece
  end
  series.newest = tRaw
  series.n = series.n + 1
end

-- WindowSeries trimming: what fell out of retention from the newest entry, then the oldest
-- entries beyond entriesMax (remembering the newest time dropped for lack of room). Both take
-- entries off the head, so one pass does both; dropped entries become spaces.
local function trim(series, limits)
  if series.n == 0 then return end
  local bound = newestOf(series) - limits.retention
  if series.n <= limits.max and oldestOf(series) > bound then return end
  local taken, at, size = 0, series.h, 256
  local roomRaw, keptRaw
  while taken < series.n do
    local text = getrange(series, at - 1, at + size - 2)
    local i = string.find(text, '[', 1, true)
    local finish = i and string.find(text, ']', i, true)
    if not finish then
      if #text < size then error('series ' .. series.key .. ' holds fewer entries than its count') end
      size = size * 8
    else
      local raw = timeTextOf(string.sub(text, i, finish))
      local expired = num(raw) <= bound
      if not expired and series.n - taken <= limits.max then
        at = at + i - 1
        keptRaw = raw
        break
      end
      if not expired then roomRaw = raw end
      taken = taken + 1
      at = at + finish
    end
  end
  if roomRaw then
    local t = num(roomRaw)
    if series.dropped == nil or t > series.dropped then
      series.dropped = t
      series.droppedRaw = roomRaw
    end
  end
  if taken == 0 then return end
  series.last = nil
  series.n = series.n - taken
  if series.n == 0 then
    reset(series)
    return
  end
  setrange(series, series.h - 1, string.rep(' ', at - series.h))
  series.h = at
  series.oldest = keptRaw
end

-- WindowSeries.record: inserted after every entry at or before t.
local function record(series, t, tRaw, entry, limits)
  series.last = nil
  if series.n == 0 or newestOf(series) <= t then
    append(series, entry, tRaw)
  else
    local newer = tail(series, function(time) return time > t end, -1)
    local entries = { entry }
    for i = #newer, 1, -1 do entries[#entries + 1] = newer[i].text end
    rewriteFrom(series, newer[#newer].at, entries)
    series.n = series.n + 1
  end
  trim(series, limits)
end

-- WindowSeries.remove: the newest entry equal to (t, v, label), if any.
local function remove(series, t, v, label)
  series.last = nil
  if series.n == 0 or newestOf(series) < t then return end
  local entries = tail(series, function(time) return time >= t end, -1)
  for i = 1, #entries do
    local _, ev, elabel = parse(entries[i].text)
    if entries[i].time == t and num(ev) == v and elabel == label then
      series.n = series.n - 1
      if series.n == 0 then
        reset(series)
      else
        local kept = {}
        for j = i - 1, 1, -1 do kept[#kept + 1] = entries[j].text end
        if i == 1 then series.newest = nil end
        rewriteFrom(series, entries[i].at, kept)
      end
      return
    end
  end
end

-- Writes the newest entry, a bucket at its time, with a new value; trims as WindowSeries does.
local function setNewest(series, last, limits)
  local oldest = series.oldest
  rewriteFrom(series, last.at, { '[' .. last.timeText .. ',' .. number(last.value) .. ']' })
  -- Same time, so the same oldest and newest entries' times.
  series.oldest = oldest
  trim(series, limits)
end

-- WindowSeries.addToBucket: the entries with t - 1 < time <= t form the bucket.
local function bucket(series, tRaw, t, v, limits)
  -- Every sign-in adds 1 to this week's bucket of several global counts, so a commit holds runs
  -- of bucket ops at one time on one series. After the first, the bucket is still the newest
  -- entry, alone in (t - 1, t] and unlabelled, as long as nothing else changed the series
  -- (record, remove and trimming forget it): its position and value are known.
  local last = series.last
  if last and last.time == t then
    last.value = last.value + v
    setNewest(series, last, limits)
    return
  end
  series.last = nil
  local entries = tail(series, function(time) return time > t - 1 end, -1)
  local inBucket = {}
  for i = 1, #entries do
    if entries[i].time <= t then inBucket[#inBucket + 1] = i end
  end
  if #inBucket == 1 then
    local only = inBucket[1]
    local et, ev, elabel = parse(entries[only].text)
    if entries[only].time == t and elabel == '' then
      local value = num(ev) + v
      if only == 1 then
        series.last = { time = t, at = entries[1].at, timeText = et, value = value }
        setNewest(series, series.last, limits)
        return
      end
      local rewritten = { '[' .. et .. ',' .. number(value) .. ']' }
      for j = only - 1, 1, -1 do rewritten[#rewritten + 1] = entries[j].text end
      local oldest = series.oldest
      rewriteFrom(series, entries[only].at, rewritten)
      -- Same time, so the same oldest and newest entries' times.
      series.oldest = oldest
      trim(series, limits)
      return
    end
  end
  local sum = 0
  for i = #inBucket, 1, -1 do
    local _, ev = parse(entries[inBucket[i]].text)
    sum = sum + num(ev)
  end
  if #inBucket > 0 then remove(series, t, sum, '') end
  record(series, t, tRaw, '[' .. tRaw .. ',' .. number(sum + v) .. ']', limits)
end

-- The same bucket op count more times (runs of sign-ins adding 1 to this week's counts are sent
-- once, with their length). Once the bucket is the newest entry, alone and unlabelled
-- (series.last, set by bucket), only its value changes: it adds v for each op in turn, as the
-- ops would, and is written once, since trimming after each would find nothing more to take
-- (nothing but the value changed since the last trim).
local function bucketAgain(series, tRaw, t, v, count, limits)
  local added = false
  for _ = 1, count do
    local last = series.last
    if last and last.time == t then
      last.value = last.value + v
      added = true
    else
      bucket(series, tRaw, t, v, limits)
    end
  end
  if added then setNewest(series, series.last, limits) end
end

-- Once the spaces at either end outweigh the entries, writes the entries again without them.
local function compact(series)
  local spaces = series.h - 1 - W + series.len - series.e
  if series.n == 0 or spaces <= 256 or spaces <= series.e - series.h + 1 then return end
  series.last = nil
  local text = blank .. redis.call('GETRANGE', series.key, series.h - 1, series.e - 1)
  redis.call('SET', series.key, text, 'KEEPTTL')
  series.h, series.e, series.len = W + 1, #text, #text
end

local arg = seriesArg
for i = 1, seriesCount do
  local key = KEYS[seriesKey + i]
  local limits = { retention = num(ARGV[arg + 1]), max = num(ARGV[arg + 2]) }
  local opCount = num(ARGV[arg + 3])
  arg = arg + 3
  -- The header and, for a small series, every entry.
  local got = redis.call('GETRANGE', key, 0, W + rewriteBelow - 1)
  local series = { key = key, n = 0, h = W + 1, e = W, labelled = '0' }
  local expiresAt = 0
  local existed = #got >= W
  if existed then
    local n, h, e, a, z, k, d, x = string.match(got, headerPattern)
    if n == nil then error('series ' .. key .. ' has no header') end
    series.n, series.h, series.e = num(n), num(h), num(e)
    if a ~= '' then series.oldest = a end
    if z ~= '' then series.newest = z end
    series.labelled = k
    if d ~= '' then
      series.droppedRaw = d
      series.dropped = num(d)
    end
    if x ~= '' then expiresAt = num(x) end
  end
  local ttl = math.ceil(limits.retention + seriesMargin)
  local refresh = expiresAt < nowMs + ttl - seriesRefresh
  if refresh then expiresAt = nowMs + ttl end
  local expiry = integer(expiresAt)
  if series.e - series.h + 1 < rewriteBelow and (not existed or series.e <= #got) then
    local buf = blank
    if existed then buf = #got == series.e and got or string.sub(got, 1, series.e) end
    series.buf, series.cut, series.rest = buf, #buf + 1, ''
    series.len = #buf
  else
    series.len = existed and redis.call('STRLEN', key) or 0
  end
  for _ = 1, opCount do
    local code, tRaw, vRaw, label = ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3], ARGV[arg + 4]
    arg = arg + 4
    local t, v = num(tRaw), num(vRaw)
    if code == 'r' then
      local entry = '[' .. tRaw .. ',' .. vRaw .. ']'
      if label ~= '' then
        entry = '[' .. tRaw .. ',' .. vRaw .. ',' .. label .. ']'
        series.labelled = '1'
      end
      record(series, t, tRaw, entry, limits)
    elseif code == 'x' then
      remove(series, t, v, label)
    else
      -- 'b', or 'b' and a count for a run of the same bucket op.
      bucket(series, tRaw, t, v, limits)
      if code ~= 'b' then bucketAgain(series, tRaw, t, v, num(string.sub(code, 2)) - 1, limits) end
    end
  end
  if not series.buf then compact(series) end
  local oldest, newest
  if series.n > 0 then
    oldest = series.oldest or timeTextOf(getrange(series, series.h - 1, series.h + 62))
    newest = series.newest or timeTextOf(tail(series, always, 1)[1].text)
  end
  if series.buf then
    -- Written without the spaces left where entries went.
    local content = series.n > 0 and getrange(series, series.h - 1, series.e - 1) or ''
    series.h, series.e = W + 1, W + #content
    local text = header(series, oldest, newest, expiry) .. content
    if refresh or not existed then
      redis.call('SET', key, text, 'PXAT', expiry)
    else
      redis.call('SET', key, text, 'KEEPTTL')
    end
  else
    redis.call('SETRANGE', key, 0, header(series, oldest, newest, expiry))
    if refresh or not existed then redis.call('PEXPIREAT', key, expiry) end
  end
end
return {1}
`;

/**
 * Pending messages committed at or before ARGV[1] (ms), oldest first, at most ARGV[2].
 * KEYS: the spool zset and hash. Returns a flat list of (eventId, message).
 */
const pendingScript = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for from = 1, #ids, 500 do
  local last = math.min(from + 499, #ids)
  local messages = redis.call('HMGET', KEYS[2], unpack(ids, from, last))
  for i = from, last do
    out[#out + 1] = ids[i]
    out[#out + 1] = messages[i - from + 1]
  end
end
return out
`;

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({
  source,
  sha: createHash('sha1').update(source).digest('hex'),
});
const scripts = { commit: script(commitScript), pending: script(pendingScript) };

const dayMs = 24 * 60 * 60 * 1000;

/** Account states outlive the login profile's six months of history. */
export const defaultAccountTtlMs = 200 * dayMs;
/** Long enough for any retry of an event to find its first outcome. */
export const defaultOutcomeTtlMs = 7 * dayMs;
/**
 * A series outlives its retention by this much since its last write, less at most half of it:
 * its keys' expiry is set again only once half the margin has passed since it was last set.
 */
export const defaultSeriesTtlMarginMs = dayMs;
/**
 * A series whose entries take fewer bytes than this is read, changed and written whole by a
 * commit (three Redis calls); a larger one is edited in place. 40 weekly buckets of a global
 * count take about 900 bytes, a failure series of 40 labelled entries about 1,500.
 */
export const defaultSeriesRewriteBelowBytes = 2048;

export interface RedisDecisionStateOptions {
  /** Shared with other users of Redis (connectRedis); `close` leaves it open unless `ownsClient`. */
  readonly client: Redis;
  /** Prefix of every key, e.g. `bulwark` (tests use one of their own). */
  readonly keyPrefix: string;
  /** Commit times of pending messages, and the `now` of `pendingOlderThan`. */
  readonly clock: Clock;
  readonly accountTtlMs?: number;
  readonly outcomeTtlMs?: number;
  readonly seriesTtlMarginMs?: number;
  /**
   * Series smaller than this (bytes of entries) are rewritten whole, larger ones edited in place
   * (`defaultSeriesRewriteBelowBytes`); 0 edits every series in place. Tests set both ways.
   */
  readonly seriesRewriteBelowBytes?: number;
  /** When true, `close` quits the client. */
  readonly ownsClient?: boolean;
}

/**
 * The decision state of cluster mode in Redis: every read of a batch is one MULTI/EXEC round trip,
 * every commit one atomic script. A Redis failure rejects the promise with the ioredis error (the caller
 * decides in its degraded mode); the client's command timeout bounds every call.
 */
export class RedisDecisionState implements DecisionStateStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #accountTtlMs: number;
  readonly #outcomeTtlMs: number;
  readonly #seriesTtlMarginMs: number;
  readonly #seriesRewriteBelowBytes: number;
  readonly #ownsClient: boolean;

  constructor(options: RedisDecisionStateOptions) {
    this.#client = options.client;
    this.#prefix = options.keyPrefix;
    this.#clock = options.clock;
    this.#accountTtlMs = positiveMs(options.accountTtlMs ?? defaultAccountTtlMs, 'accountTtlMs');
    this.#outcomeTtlMs = positiveMs(options.outcomeTtlMs ?? defaultOutcomeTtlMs, 'outcomeTtlMs');
    this.#seriesTtlMarginMs = positiveMs(
      options.seriesTtlMarginMs ?? defaultSeriesTtlMarginMs,
      'seriesTtlMarginMs',
    );
    const rewriteBelow = options.seriesRewriteBelowBytes ?? defaultSeriesRewriteBelowBytes;
    if (!Number.isSafeInteger(rewriteBelow) || rewriteBelow < 0)
      throw new RangeError('seriesRewriteBelowBytes must be a non-negative integer');
    this.#seriesRewriteBelowBytes = rewriteBelow;
    this.#ownsClient = options.ownsClient ?? false;
  }

  /** The key of an account's state and version. */
  accountKey(accountId: string): string {
    return `${this.#prefix}:acct:{${accountId}}`;
  }

  /** The keys of a series: one string, its header and entries. */
  seriesRedisKeys(key: string): [string] {
    return [`${this.#prefix}:window:{${key}}`];
  }

  /** The key of the outcome given to an event. */
  outcomeKey(eventId: string): string {
    return `${this.#prefix}:outcome:{${eventId}}`;
  }

  /** The spool: commit times (a sorted set) and messages (a hash). */
  pendingKeys(): [string, string] {
    const spool = `${this.#prefix}:pending:{spool}`;
    return [spool, `${spool}:messages`];
  }

  /**
   * One round trip: plain reads in a MULTI/EXEC transaction, so the view is consistent and Redis
   * copies each series' string straight into the reply (through a script, a 44 kB string costs
   * about 60 µs of Redis time; read directly, about 3 µs).
   */
  async load(query: {
    accountIds: readonly string[];
    seriesKeys: readonly string[];
    eventIds: readonly string[];
  }): Promise<DecisionStateLoad> {
    const { accountIds, seriesKeys, eventIds } = query;
    const reads = this.#client.multi();
    for (const accountId of accountIds) reads.hmget(this.accountKey(accountId), 's', 'v');
    for (const key of seriesKeys) reads.get(this.seriesRedisKeys(key)[0]);
    for (const eventId of eventIds) reads.get(this.outcomeKey(eventId));
    const replies = accountIds.length + seriesKeys.length + eventIds.length === 0 ? [] : await execAll(reads);
    let at = 0;
    const next = (): unknown => replies[at++];
    const accounts = new Map<string, VersionedAccount>();
    for (const accountId of accountIds) {
      const [state = null, version = null] = textsOf(next());
      accounts.set(accountId, {
        state: state === null ? undefined : (JSON.parse(state) as AccountState),
        version: version === null ? 0 : Number(version),
      });
    }
    const series = new Map<string, SeriesSnapshot>();
    for (const key of seriesKeys) {
      const stored = next();
      // A series emptied by its ops keeps its key (the header says whether it is labelled and
      // what was dropped): it loads as an empty snapshot, as WindowSeries would be.
      if (typeof stored === 'string') series.set(key, snapshotOf(stored));
    }
    const prior = new Map<string, PriorOutcome>();
    for (const eventId of eventIds) {
      const outcome = next();
      if (typeof outcome === 'string') prior.set(eventId, JSON.parse(outcome) as PriorOutcome);
    }
    return { accounts, series, prior };
  }

  async commit(commit: DecisionCommit): Promise<CommitResult> {
    checkCommit(commit);
    const changes = commit.series.filter((change) => change.ops.length > 0);
    const keys = [
      ...commit.accounts.map(({ state }) => this.accountKey(state.accountId)),
      ...commit.outcomes.map(({ eventId }) => this.outcomeKey(eventId)),
      ...changes.map(({ key }) => this.seriesRedisKeys(key)[0]),
      ...this.pendingKeys(),
    ];
    const args = [
      String(this.#clock.now()),
      String(commit.accounts.length),
      String(commit.outcomes.length),
      String(changes.length),
      String(commit.pending.length),
      String(this.#accountTtlMs),
      String(this.#outcomeTtlMs),
      String(this.#seriesTtlMarginMs),
      // A key's expiry is set again only once this much of its TTL has passed.
      String(Math.min(dayMs, Math.floor(this.#accountTtlMs / 2))),
      String(Math.floor(this.#seriesTtlMarginMs / 2)),
      String(this.#seriesRewriteBelowBytes),
      ...commit.accounts.flatMap(({ state, expectedVersion }) => [
        state.accountId,
        String(expectedVersion),
        JSON.stringify(state),
      ]),
      ...commit.outcomes.flatMap(({ eventId, outcome }) => [eventId, JSON.stringify(outcome)]),
      ...commit.pending.flatMap(({ eventId, message }) => [eventId, message]),
      ...changes.flatMap(seriesArgs),
    ];
    const reply = replyList(await this.#run(scripts.commit, keys, args));
    if (reply[0] === 1) return { ok: true };
    return {
      ok: false,
      conflictedAccounts: replyList(reply[1]).map(String),
      decidedEventIds: replyList(reply[2]).map(String),
    };
  }

  async published(eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    const [spool, messages] = this.pendingKeys();
    await execAll(
      this.#client
        .multi()
        .zrem(spool, ...eventIds)
        .hdel(messages, ...eventIds),
    );
  }

  /** Oldest first; messages committed in the same millisecond come in event id order. */
  async pendingOlderThan(olderThanMs: number, limit: number): Promise<PendingMessage[]> {
    if (limit < 1) return [];
    const latestMs = this.#clock.now() - olderThanMs;
    const reply = replyList(
      await this.#run(scripts.pending, this.pendingKeys(), [String(latestMs), String(Math.floor(limit))]),
    );
    const out: PendingMessage[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const eventId = reply[i];
      const message = reply[i + 1];
      // Both are written in one script; a missing message would mean someone edited the spool.
      if (typeof eventId === 'string' && typeof message === 'string') out.push({ eventId, message });
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.#client.quit();
  }

  async #run(script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // First use on this server (or after SCRIPT FLUSH): send the script once.
      return this.#client.eval(script.source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * A series change as the commit script reads it; labels go as JSON text, '' for none. A run of
 * the same bucket op (every sign-in of a batch adds 1 to this week's global counts) goes once,
 * coded `b` and its length; the script still adds each value in turn.
 */
function seriesArgs(change: SeriesChange): string[] {
  const { ops } = change;
  const args = [String(change.limits.retentionMs), String(change.limits.entriesMax), ''];
  let sent = 0;
  for (let i = 0; i < ops.length;) {
    const op = ops[i] as SeriesOp;
    let next = i + 1;
    if (op.op === 'bucket') {
      while (next < ops.length && sameBucket(op, ops[next] as SeriesOp)) next += 1;
      args.push(next - i === 1 ? 'b' : `b${String(next - i)}`, String(op.t), String(op.v), '');
    } else {
      const label = op.k === undefined ? '' : labelText(op.k);
      args.push(op.op === 'record' ? 'r' : 'x', String(op.t), String(op.v), label);
    }
    sent += 1;
    i = next;
  }
  args[2] = String(sent);
  return args;
}

function sameBucket(op: SeriesOp & { op: 'bucket' }, other: SeriesOp): boolean {
  return other.op === 'bucket' && other.t === op.t && String(other.v) === String(op.v);
}

/**
 * A label as the JSON text of a series entry, with `[` and `]` escaped (`\u005b`, `\u005d`) so
 * the script can find an entry's bounds without parsing JSON strings. The same label always
 * gives the same text, which the script compares to find an entry to remove.
 */
function labelText(label: string): string {
  return JSON.stringify(label).replaceAll('[', '\\u005b').replaceAll(']', '\\u005d');
}

/** Bytes of a series' header (`n,h,e,a,z,k,d,x` padded with spaces), before its entries. */
const seriesHeaderBytes = 128;

/** The snapshot of a stored series: its header, then its entries (JSON but for the outer brackets). */
function snapshotOf(stored: string): SeriesSnapshot {
  const fields = stored.slice(0, seriesHeaderBytes).trimEnd().split(',');
  const labelled = fields[5] === '1';
  const dropped = fields[6] === undefined || fields[6] === '' ? null : fields[6];
  const entries = JSON.parse(`[${stored.slice(seriesHeaderBytes)}]`) as [number, number, string?][];
  const snapshot: SeriesSnapshot = {
    t: new Array<number>(entries.length),
    v: new Array<number>(entries.length),
  };
  const labels = labelled ? new Array<string | null>(entries.length) : undefined;
  entries.forEach(([t, v, label], index) => {
    snapshot.t[index] = t;
    snapshot.v[index] = v;
    if (labels !== undefined) labels[index] = label ?? null;
  });
  if (labels !== undefined) snapshot.k = labels;
  if (dropped !== null) snapshot.droppedUpToMs = Number(dropped);
  return snapshot;
}

/** Runs a transaction; the first failed command's error rejects. */
async function execAll(transaction: ChainableCommander): Promise<unknown[]> {
  const results = await transaction.exec();
  if (results === null) throw new Error('a Redis transaction was aborted');
  return results.map(([error, reply]) => {
    if (error !== null) throw error;
    return reply;
  });
}

/** An HMGET reply as texts, null where a field is absent. */
function textsOf(reply: unknown): (string | null)[] {
  return replyList(reply).map((value) => (typeof value === 'string' ? value : null));
}

function replyList(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new Error('unexpected reply from a decision state script');
  return reply as unknown[];
}

function positiveMs(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${field} must be a positive integer`);
  return value;
}
