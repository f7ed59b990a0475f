-- Takes the lock on one object for one worker.
-- KEYS[1]: the object's lock key
-- ARGV[1]: the worker's token
-- ARGV[2]: how long the lock lives, in ms (it expires if the worker dies)
-- Returns 1 when taken (or already held by this token), -1 when another worker holds it.
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return -1
