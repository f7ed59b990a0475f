-- Releases the locks on several objects, those this worker still holds, and when asked tells
-- every worker that the objects were applied.
-- KEYS: the objects' lock keys
-- ARGV[1]: the worker's token
-- ARGV[2], ARGV[3] (optional): the channel and the message to publish on it
-- Returns how many locks were released.
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
if ARGV[2] then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return released
