# The Sidekiq client side of `make bench-compare` (the Conveyor side is `conveyor bench-client`), with
# the same modes: one (JOBS pushes, one call each), batch (push_bulk, BATCH per call), latency (one
# push at a time at RATE per second for SECONDS). Prints the elapsed seconds.
# Usage: ruby bench/sidekiq/client.rb MODE JOBS BATCH RATE SECONDS COUNTER LATENCIES
require_relative "compare_job"

mode, jobs, batch, rate, seconds, counter, latencies = ARGV
jobs = Integer(jobs)
batch = Integer(batch)
rate = Integer(rate)
seconds = Float(seconds)
counted = { "counter" => counter, "total" => jobs }
start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
case mode
when "one"
  jobs.times { CompareJob.perform_async(counted) }
when "batch"
  left = jobs
  while left.positive?
    size = [batch, left].min
    Sidekiq::Client.push_bulk("class" => CompareJob, "args" => Array.new(size) { [counted] })
    left -= size
  end
when "latency"
  (seconds * rate).to_i.times do |index|
    wait = start + index.to_f / rate - Process.clock_gettime(Process::CLOCK_MONOTONIC)
    sleep(wait) if wait.positive?
    CompareJob.perform_async({ "latencies" => latencies, "sent_us" => CompareJob.now_us })
  end
else
  abort "mode is one, batch or latency"
end
printf("%.6f\n", Process.clock_gettime(Process::CLOCK_MONOTONIC) - start)
