-- @include "call_state"
-- Cluster-wide job metrics, in the hash `{ns}:metrics` that `conveyor serve` exports on /metrics.
-- Fields join their parts with byte 31 (no queue or type contains it): "c" counters
-- c|<name>|<queue>|<type> (enqueued, succeeded, failed, dead), and histograms of milliseconds
-- h|<name>|<queue>|<type>|<bucket> (bucket i counts values <= METRIC_BUCKETS[i], the one past the
-- end the rest) with their sums s|<name>|<queue>|<type>; names: run (execution time of an attempt),
-- wait (enqueue to start). count_metric and observe_metric add up increments; flush_metrics(prefix)
-- writes them once, before the call returns: one HINCRBY per field touched, not per job. Field names
-- are built once per name/queue/type and kept (up to 4,096 series, then rebuilt), since building
-- them was a measurable share of a job's cost.
local METRIC_BUCKETS = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}
local metric_increments = {}
local metric_series = {}
local metric_series_count = 0
on_call_start(function() metric_increments = {} end)

-- The field names of one series: .c the counter, .s the sum, .h[i] bucket i.
local function metric_fields(name, queue, jtype)
  queue, jtype = queue or '', jtype or ''
  local by_name = metric_series[name]
  if not by_name then
    by_name = {}
    metric_series[name] = by_name
  end
  local by_queue = by_name[queue]
  if not by_queue then
    by_queue = {}
    by_name[queue] = by_queue
  end
  local fields = by_queue[jtype]
  if not fields then
    if metric_series_count >= 4096 then
      metric_series, metric_series_count = {}, 0
      return metric_fields(name, queue, jtype)
    end
    local series = name .. '\31' .. queue .. '\31' .. jtype
    fields = {c = 'c\31' .. series, s = 's\31' .. series, h = {}}
    for i = 1, #METRIC_BUCKETS + 1 do fields.h[i] = 'h\31' .. series .. '\31' .. i end
    by_queue[jtype] = fields
    metric_series_count = metric_series_count + 1
  end
  return fields
end

local function count_metric(name, queue, jtype, n)
  local field = metric_fields(name, queue, jtype).c
  metric_increments[field] = (metric_increments[field] or 0) + n
end

local function observe_metric(name, queue, jtype, ms)
  if ms < 0 then ms = 0 end
  local bucket = #METRIC_BUCKETS + 1
  for i = 1, #METRIC_BUCKETS do
    if ms <= METRIC_BUCKETS[i] then
      bucket = i
      break
    end
  end
  local fields = metric_fields(name, queue, jtype)
  local field = fields.h[bucket]
  metric_increments[field] = (metric_increments[field] or 0) + 1
  metric_increments[fields.s] = (metric_increments[fields.s] or 0) + ms
end

local function flush_metrics(prefix)
  local key = prefix .. 'metrics'
  for field, n in pairs(metric_increments) do redis.call('HINCRBY', key, field, string.format('%d', n)) end
  metric_increments = {}
end
-- Whatever a call gathered and did not flush (it failed half-way) is written at its end.
on_call_end(function() if next(metric_increments) then flush_metrics(call_prefix) end end)
