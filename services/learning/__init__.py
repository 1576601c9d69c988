"""Learning: tutors, students, courses, availability, lessons and matching
requests. Owns ``edtech_learning_db``."""
