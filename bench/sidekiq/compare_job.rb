# The job `make bench-compare` runs on Sidekiq, the same one its Conveyor side runs (`bench.compare`
# in Sources/conveyor/CompareBench.swift): one Redis round trip of its own, on Sidekiq's own pool.
# Argument, one of:
#   {"counter" => KEY, "total" => N}: INCR KEY; the first and the N-th increment also stamp the wall
#     clock in µs into KEY:first / KEY:last, so drain time is measured by the jobs themselves;
#   {"latencies" => KEY, "sent_us" => T}: RPUSH KEY <now - T>, the enqueue→start delay in µs.
require "sidekiq"

# redis-rb 4.8 (Debian's, under Sidekiq 6.4) prints a deprecation warning on every push; printing it
# would be counted as Sidekiq's cost.
Redis.silence_deprecations = true

# Conveyor's worker in the bench logs warnings only; Sidekiq's would otherwise log two lines a job.
Sidekiq.configure_server do |config|
  config.redis = { url: ENV.fetch("REDIS_URL") }
  config.logger.level = Logger::WARN
end
Sidekiq.configure_client { |config| config.redis = { url: ENV.fetch("REDIS_URL"), size: 1 } }

class CompareJob
  include Sidekiq::Worker

  def self.now_us
    Process.clock_gettime(Process::CLOCK_REALTIME, :microsecond)
  end

  def perform(job)
    if (key = job["latencies"])
      Sidekiq.redis { |redis| redis.rpush(key, CompareJob.now_us - job["sent_us"]) }
    elsif (key = job["counter"])
      count = Sidekiq.redis { |redis| redis.incr(key) }
      Sidekiq.redis { |redis| redis.set("#{key}:first", CompareJob.now_us) } if count == 1
      Sidekiq.redis { |redis| redis.set("#{key}:last", CompareJob.now_us) } if count == job["total"]
    else
      raise ArgumentError, "bench.compare needs counter or latencies"
    end
  end
end
