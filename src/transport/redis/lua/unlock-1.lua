-- Releases the lock on one object, only if this worker still holds it.
-- KEYS[1]: the object's lock key
-- ARGV[1]: the worker's token
-- Returns 1 when released, -1 when the lock had expired or belongs to another worker.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return -1
